"""SavedModel and TFLite export of keras_vae models (installed as `keras_vae.export`)."""
