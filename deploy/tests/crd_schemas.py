"""Schemas of the custom resources Pledge ships (Gateway API, CloudNativePG, Barman Cloud, External Secrets).

kubernetes-validate bundles the built-in kinds only, and the projects' CRDs cannot be fetched here, so each
kind gets the subset of its published schema that our manifests use, written from the CRD reference:
every object is closed (`additionalProperties: false`), so a misspelt or misplaced field fails, and the
formats the controllers enforce (durations, cron with seconds, enums) are checked. A field we start using
must be added here first, from the CRD's documentation.
"""

from typing import Any

Schema = dict[str, Any]


def obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    return {"type": "object", "additionalProperties": False, "required": list(required), "properties": properties}


def array(items: Schema, min_items: int = 0, max_items: int | None = None) -> Schema:
    bounds = {"minItems": min_items} | ({"maxItems": max_items} if max_items is not None else {})
    return {"type": "array", "items": items, **bounds}


STRING: Schema = {"type": "string", "minLength": 1}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
LABELS: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA = obj(("name",), name=STRING, namespace=STRING, labels=LABELS, annotations=LABELS)
NAME_REF = obj(("name",), name=STRING)
SECRET_KEY = obj(("name", "key"), name=STRING, key=STRING)
QUANTITY: Schema = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$"}
RESOURCES = obj(requests=obj(cpu=QUANTITY, memory=QUANTITY), limits=obj(cpu=QUANTITY, memory=QUANTITY))


def resource(api_version: str, kind: str, spec: Schema) -> Schema:
    return obj(
        ("apiVersion", "kind", "metadata", "spec"),
        apiVersion={"const": api_version},
        kind={"const": kind},
        metadata=METADATA,
        spec=spec,
    )


# ---------------------------------------------------------------- Gateway API (gateway.networking.k8s.io/v1)
# Duration: GEP-2257, e.g. 1h, 60s, 1m30s; "0s" disables a timeout
DURATION: Schema = {"type": "string", "pattern": r"^([0-9]{1,5}(h|m|s|ms)){1,4}$"}
HOSTNAME: Schema = {
    "type": "string",
    "pattern": r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
}
PARENT_REF = obj(
    ("name",),
    group={"const": "gateway.networking.k8s.io"},
    kind={"const": "Gateway"},
    namespace=STRING,
    name=STRING,
    sectionName=STRING,
)
PATH_MATCH = obj(
    ("type", "value"),
    type={"enum": ["Exact", "PathPrefix", "RegularExpression"]},
    value={"type": "string", "pattern": "^/", "maxLength": 1024},
)
BACKEND_REF = obj(
    ("name", "port"),
    group={"const": ""},
    kind={"const": "Service"},
    name=STRING,
    port={"type": "integer", "minimum": 1, "maximum": 65535},
    weight=INTEGER,
)
HTTP_ROUTE = resource(
    "gateway.networking.k8s.io/v1",
    "HTTPRoute",
    obj(
        ("parentRefs", "rules"),
        parentRefs=array(PARENT_REF, 1, 32),
        hostnames=array(
            {"type": "string", "pattern": r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"}
        ),
        rules=array(
            obj(
                matches=array(obj(path=PATH_MATCH), 1, 64),
                backendRefs=array(BACKEND_REF, 0, 16),
                timeouts=obj(request=DURATION, backendRequest=DURATION),
            ),
            1,
            16,
        ),
    ),
)

# ---------------------------------------------------------------- CloudNativePG (postgresql.cnpg.io/v1)
PLUGIN = obj(("name",), name=STRING, isWALArchiver=BOOLEAN, parameters=LABELS)
CLUSTER = resource(
    "postgresql.cnpg.io/v1",
    "Cluster",
    obj(
        ("instances", "storage"),
        instances={"type": "integer", "minimum": 1},
        imageName=STRING,
        primaryUpdateStrategy={"enum": ["unsupervised", "supervised"]},
        enableSuperuserAccess=BOOLEAN,
        inheritedMetadata=obj(labels=LABELS, annotations=LABELS),
        affinity=obj(
            enablePodAntiAffinity=BOOLEAN,
            topologyKey=STRING,
            podAntiAffinityType={"enum": ["preferred", "required"]},
        ),
        storage=obj(("size",), size=QUANTITY, storageClass=STRING),
        walStorage=obj(("size",), size=QUANTITY, storageClass=STRING),
        resources=RESOURCES,
        postgresql=obj(parameters=LABELS),
        bootstrap=obj(
            initdb=obj(
                database=STRING,
                owner=STRING,
                postInitApplicationSQL=array(STRING),
            ),
            recovery=obj(
                ("source",),
                source=STRING,
                database=STRING,
                owner=STRING,
                recoveryTarget=obj(targetTime=STRING, targetLSN=STRING, targetImmediate=BOOLEAN),
            ),
        ),
        managed=obj(
            roles=array(
                obj(
                    ("name",),
                    name=STRING,
                    ensure={"enum": ["present", "absent"]},
                    login=BOOLEAN,
                    superuser=BOOLEAN,
                    createdb=BOOLEAN,
                    createrole=BOOLEAN,
                    passwordSecret=NAME_REF,
                    connectionLimit=INTEGER,
                )
            )
        ),
        plugins=array(PLUGIN),
        externalClusters=array(obj(("name",), name=STRING, plugin=PLUGIN)),
    ),
)
POOLER = resource(
    "postgresql.cnpg.io/v1",
    "Pooler",
    obj(
        ("cluster", "pgbouncer"),
        cluster=NAME_REF,
        instances={"type": "integer", "minimum": 0},
        type={"enum": ["rw", "ro", "r"]},
        pgbouncer=obj(
            poolMode={"enum": ["session", "transaction"]},
            parameters=LABELS,
        ),
        template=obj(
            metadata=obj(labels=LABELS, annotations=LABELS),
            spec=obj(("containers",), containers=array({"type": "object"})),
        ),
    ),
)
# six fields, seconds first (robfig/cron with seconds), e.g. "0 0 2 * * *"
CRON_WITH_SECONDS: Schema = {"type": "string", "pattern": r"^\S+( \S+){5}$"}
SCHEDULED_BACKUP = resource(
    "postgresql.cnpg.io/v1",
    "ScheduledBackup",
    obj(
        ("schedule", "cluster"),
        schedule=CRON_WITH_SECONDS,
        immediate=BOOLEAN,
        suspend=BOOLEAN,
        backupOwnerReference={"enum": ["none", "self", "cluster"]},
        cluster=NAME_REF,
        method={"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
        pluginConfiguration=obj(("name",), name=STRING, parameters=LABELS),
    ),
)

# ---------------------------------------------------------------- Barman Cloud plugin (barmancloud.cnpg.io/v1)
OBJECT_STORE = resource(
    "barmancloud.cnpg.io/v1",
    "ObjectStore",
    obj(
        ("configuration",),
        retentionPolicy={"type": "string", "pattern": r"^[1-9][0-9]*[dwm]$"},
        configuration=obj(
            ("destinationPath",),
            destinationPath={"type": "string", "pattern": r"^(s3|gs|https?)://"},
            endpointURL=STRING,
            s3Credentials=obj(("accessKeyId", "secretAccessKey"), accessKeyId=SECRET_KEY, secretAccessKey=SECRET_KEY),
            wal=obj(compression={"enum": ["gzip", "bzip2", "snappy", "lz4", "zstd"]}, maxParallel=INTEGER),
            data=obj(compression={"enum": ["gzip", "bzip2", "snappy"]}, jobs=INTEGER),
        ),
    ),
)

# ---------------------------------------------------------------- External Secrets (external-secrets.io/v1)
EXTERNAL_SECRET = resource(
    "external-secrets.io/v1",
    "ExternalSecret",
    obj(
        ("secretStoreRef", "target"),
        refreshInterval=DURATION,
        secretStoreRef=obj(("name",), kind={"enum": ["SecretStore", "ClusterSecretStore"]}, name=STRING),
        target=obj(
            ("name",),
            name=STRING,
            creationPolicy={"enum": ["Owner", "Orphan", "Merge", "None"]},
            template=obj(
                type=STRING,
                metadata=obj(labels=LABELS, annotations=LABELS),
                data=LABELS,
            ),
        ),
        data=array(
            obj(
                ("secretKey", "remoteRef"),
                secretKey=STRING,
                remoteRef=obj(("key",), key=STRING, property=STRING),
            )
        ),
        dataFrom=array(obj(extract=obj(("key",), key=STRING, property=STRING))),
    ),
)

SCHEMAS: dict[tuple[str, str], Schema] = {
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): HTTP_ROUTE,
    ("postgresql.cnpg.io/v1", "Cluster"): CLUSTER,
    ("postgresql.cnpg.io/v1", "Pooler"): POOLER,
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): SCHEDULED_BACKUP,
    ("barmancloud.cnpg.io/v1", "ObjectStore"): OBJECT_STORE,
    ("external-secrets.io/v1", "ExternalSecret"): EXTERNAL_SECRET,
}


CUSTOM_GROUPS = {api.rpartition("/")[0] for api, _ in SCHEMAS}


def is_custom(obj: dict[str, Any]) -> bool:
    """A kind of a CRD: one of the groups above, or any group outside Kubernetes' own (*.k8s.io)."""
    group = str(obj["apiVersion"]).rpartition("/")[0]
    return group in CUSTOM_GROUPS or ("." in group and not group.endswith(".k8s.io"))


def duration_seconds(value: str) -> float:
    """A Gateway API duration in seconds ("1h", "1m30s", "500ms")."""
    import re

    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"([0-9]+)(ms|h|m|s)", value)
    assert "".join(n + u for n, u in parts) == value, value
    return sum(int(n) * units[u] for n, u in parts)
