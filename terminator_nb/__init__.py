__version__ = "0.1.0"
from . import speed   # the speed layer registers impl="fast" for SFNEBlock (`05a_speed`); the model modules never import it
