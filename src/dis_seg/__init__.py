"""DIS: Dual Image Segmentation with PyTorch Lightning and Hydra."""
