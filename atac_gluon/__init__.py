"""atac-gluon: Attention as Activation (Dai et al., arXiv 2007.07729) in MXNet/Gluon."""
from .activations import ACT_TYPES, SELU, ChaATAC, PReLU, create_act
from .models import (BasicBlockV1bATAC, BottleneckV1bATAC, ResBlockV2ATAC, ResNet20V2ATAC,
                     ResNet50_v1bATAC, from_gluoncv, get_cifar_resnet_atac, get_model,
                     get_resnet_v1b_atac, list_models)
from .flops import summary

__version__ = '0.1.0'
