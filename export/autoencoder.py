"""SavedModel signatures of an `Autoencoder` or `DenoisingAutoencoder` (TF Serving layout as for a VAE).

Signatures (serve tag; `reconstruct` is also `serving_default`), named inputs and outputs,
`None` batch dimension:

    reconstruct  images (B, *data_shape) float32 -> reconstruction: decode(encode(images))
    encode       images                          -> z (B, latent_dim): the code
    decode       z (B, latent_dim) float32       -> Bernoulli: probabilities, logits; others: mean

There is no `sample` and no `elbo`: an autoencoder has no prior to draw z from and no
likelihood bound. A denoising autoencoder corrupts its inputs only while training, so
its signatures are those of a plain autoencoder (clean images in).
"""

import tensorflow as tf

from keras_vae.likelihoods import Bernoulli


def build_autoencoder_archive(model, checks=True):
    """Returns a `keras.export.ExportArchive` with the autoencoder signatures (module docstring).

    Args:
        model: built `Autoencoder` or `DenoisingAutoencoder`.
        checks: bool, default True. Shape and NaN/Inf checks on the inputs.

    Example:
    >>> from keras_vae.models.builder import build_model
    >>> archive = build_autoencoder_archive(build_model("ae", (4,), latent_dim=2, likelihood="gaussian"))
    >>> archive.write_out("/tmp/ae_doctest/1", verbose=False)  # doctest: +SKIP
    """
    from keras_vae.export.family import new_archive
    from keras_vae.export.saved_model import checked

    bernoulli = isinstance(model.likelihood, Bernoulli)
    images_spec = tf.TensorSpec((None,) + tuple(model.data_shape), tf.float32, name="images")
    z_spec = tf.TensorSpec((None, int(model.latent_dim)), tf.float32, name="z")

    def reconstruct(images):
        return {"reconstruction": model(checked(images, "images", checks), training=False)}

    def encode(images):
        return {"z": model._code(checked(images, "images", checks), training=False)}

    def decode(z):
        parameters = model.decoder(checked(z, "z", checks), training=False)
        if bernoulli:
            return {"probabilities": model.likelihood.mean(parameters), "logits": parameters}
        return {"mean": model.likelihood.mean(parameters)}

    archive = new_archive(model)
    # ExportArchive turns the first endpoint into serving_default.
    archive.add_endpoint("reconstruct", reconstruct, input_signature=[images_spec])
    archive.add_endpoint("encode", encode, input_signature=[images_spec])
    archive.add_endpoint("decode", decode, input_signature=[z_spec])
    return archive
