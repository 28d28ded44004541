"""The ImageNet normalisation (RGB, pixels in 0..1) every backbone of partparse was pretrained with.

mmdetection's Caffe-style ResNets instead see BGR pixels in 0..255 minus the same means with std 1: in
our RGB 0..1 convention that is ``image_mean`` = these means and ``image_std`` = ``1/255`` per channel,
once :func:`partparse.models.yolof.load_mmdet_yolof` has flipped conv1 to RGB.
"""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
