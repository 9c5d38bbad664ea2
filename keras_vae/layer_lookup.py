"""Turns what a user names (a string, a config dict, an instance, None) into a layer of a family.

`get_likelihood`, `get_prior` and `get_posterior` are this one lookup over their own tables,
so every family accepts the same identifiers and fails with the same kind of message.
"""

import keras


def lookup_layer(identifier, table, base_class, family, default=None):
    """Returns a layer of `base_class` for `identifier`.

    Args:
        identifier: an instance of `base_class` (returned as is), a config dict (a
            serialized layer), a name in `table` (case-insensitive), or None.
        table: dict {name: class} of the family's named layers.
        base_class: class. The family's base class.
        family: str. The family's name in error messages ("likelihood", "prior", ...).
        default: class or None, default None. What None means; None is refused without it.

    Example:
    >>> from keras_vae.priors import PRIORS, Prior
    >>> type(lookup_layer("VAMP", PRIORS, Prior, "prior")).__name__
    'VampPrior'
    """
    if identifier is None and default is not None:
        return default()
    if isinstance(identifier, base_class):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, str) and identifier.lower() in table:
        return table[identifier.lower()]()
    raise ValueError(
        f"Unknown {family} {identifier!r}; choose one of {sorted(table)} or pass a {base_class.__name__}."
    )
