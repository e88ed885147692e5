"""ATAC model families and their registry."""
from .registry import (ModelFamily, canonical_name, get_model, list_models, model_factory,
                       register_model)
from .cifar import ResBlockV2ATAC, ResNet20V2ATAC, get_cifar_resnet_atac
from .imagenet import (BasicBlockV1bATAC, BottleneckV1bATAC, ResNet50_v1bATAC,
                       get_resnet_v1b_atac)
from .norm import GroupNorm
from .zoo import from_gluoncv, load_shared_parameters
