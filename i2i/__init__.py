"""i2i: multimodal image-to-image translation (BicycleGAN, its ablations, pix2pix, CycleGAN).

    from i2i import Translator
    t = Translator.load("checkpoints/edges2shoes")
    shoes = t.generate("sketch.png", seeds=range(8))   # 8 PIL images, one per seed
"""
from .models import BicycleGANConfig, CycleGANConfig, model_config
from .edges import photo_to_edges
from .infer import Translator, interpolate
from .train import TrainConfig, train

__all__ = ["BicycleGANConfig", "CycleGANConfig", "TrainConfig", "Translator", "interpolate", "model_config",
           "photo_to_edges", "train"]
