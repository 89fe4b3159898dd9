"""nbsrc: individual neuron importance via information theory."""

__version__ = "0.1.0"
