"""bridgedapp: a Kopf operator that gives an app's Deployment a Strimzi HTTP Bridge sidecar."""

GROUP = "bridgedapp.io"
VERSION = "v1alpha1"
PLURAL = "bridgedapps"
KIND = "BridgedApp"
FIELD_MANAGER = "bridgedapp-operator"  # the sidecar and the operator's own objects
INSTALL_FIELD_MANAGER = (
    "bridgedapp-operator/strimzi-install"  # what it installs: one apply never drops the other's
)
FINALIZER = "bridgedapp.io/cleanup"
LABEL_PREFIX = "bridgedapp.io/"
OWNER_LABEL = "bridgedapp.io/owner"
CONFIG_HASH_ANNOTATION = "bridgedapp.io/config-hash"
BRIDGED_BY_ANNOTATION = "bridgedapp.io/bridged-by"  # on a Deployment: the BridgedApp that owns its sidecar
MANAGED_BY_LABELS = {"app.kubernetes.io/managed-by": "bridgedapp-operator"}
SIDECAR_NAME = "kafka-bridge"
OPERATOR_NAMESPACE = "bridgedapp-system"
