"""The few Kubernetes API calls the operator makes, as plain dicts in and out.

Everything the operator reads or writes goes through :class:`ClusterClient`, so the RBAC the chart
grants is exactly what is listed here: its CRD (get, patch, status), Jobs (list, create), Pods
(list) and pods/log (get), ConfigMaps (get, create, update) for the tenant table, and Events
(create). Secrets are never read.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tenant_operator.model import API_VERSION, GROUP, KIND, PLURAL, VERSION, owner_reference
from tenant_operator.names import LABEL_MIGRATION_UID, MANAGED_BY
from tenant_operator.rollout import iso
from tenant_operator.state import TABLE_KEY, TenantTable, configmap_name, table_from_configmap

COMPONENT = MANAGED_BY


class Conflict(Exception):
    """Someone else changed the object since it was read; read again and retry."""


def load_config() -> None:
    """In-cluster credentials when running in a pod, else the kubeconfig ($KUBECONFIG)."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()


class ClusterClient:
    """Synchronous API access for one operator process (used from worker threads)."""

    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        self.api = api_client or client.ApiClient()
        self.core = client.CoreV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.instance = socket.gethostname()

    @staticmethod
    def _json(response: Any) -> Any:
        return json.loads(response.data)

    # --- the TenantMigration -------------------------------------------------------------------
    def get_migration(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._json(
                self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name, _preload_content=False
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, {"status": status}
        )

    def pause(self, namespace: str, name: str) -> None:
        """Set spec.paused (the canary gate); the person resumes by setting it false."""
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"spec": {"paused": True}}
        )

    # --- Jobs and pods -----------------------------------------------------------------------
    def list_jobs(self, namespace: str, uid: str) -> list[dict[str, Any]]:
        selector = f"{LABEL_MIGRATION_UID}={uid}"
        response = self.batch.list_namespaced_job(
            namespace, label_selector=selector, _preload_content=False
        )
        return list(self._json(response)["items"])

    def list_pods(self, namespace: str, uid: str) -> list[dict[str, Any]]:
        selector = f"{LABEL_MIGRATION_UID}={uid}"
        response = self.core.list_namespaced_pod(
            namespace, label_selector=selector, _preload_content=False
        )
        return list(self._json(response)["items"])

    def read_log(self, namespace: str, pod: str) -> str:
        response = self.core.read_namespaced_pod_log(
            pod, namespace, container="migrate", _preload_content=False
        )
        data: bytes = response.data  # type: ignore[attr-defined]
        return data.decode(errors="replace")

    def create_job(self, namespace: str, job: dict[str, Any]) -> bool:
        """Create a Job; False when it exists already (deterministic names make that safe)."""
        try:
            self.batch.create_namespaced_job(namespace, cast(Any, job))
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    # --- the tenant table --------------------------------------------------------------------
    def read_table(self, namespace: str, name: str) -> tuple[TenantTable | None, str | None]:
        """The table and the ConfigMap's resourceVersion (None, None when there is none)."""
        try:
            configmap = self._json(
                self.core.read_namespaced_config_map(
                    configmap_name(name), namespace, _preload_content=False
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return None, None
            raise
        return table_from_configmap(configmap), configmap["metadata"]["resourceVersion"]

    def write_table(
        self,
        namespace: str,
        owner: dict[str, Any],
        table: TenantTable,
        resource_version: str | None,
    ) -> str:
        """Create or replace the table's ConfigMap, refusing to overwrite a newer one."""
        name = owner["metadata"]["name"]
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": configmap_name(name),
                "namespace": namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": MANAGED_BY,
                    LABEL_MIGRATION_UID: table.uid,
                },
                "ownerReferences": [owner_reference(name, owner["metadata"]["uid"])],
            },
            "data": {"summary": _summary(table)},
            "binaryData": {TABLE_KEY: table.encode()},
        }
        try:
            if resource_version is None:
                created = self.core.create_namespaced_config_map(namespace, cast(Any, body))
                return str(cast(Any, created).metadata.resource_version)
            body["metadata"]["resourceVersion"] = resource_version
            replaced = self.core.replace_namespaced_config_map(
                configmap_name(name), namespace, cast(Any, body)
            )
            return str(cast(Any, replaced).metadata.resource_version)
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict(f"the tenant table of {namespace}/{name} changed meanwhile") from exc
            raise

    # --- events --------------------------------------------------------------------------------
    def emit(self, migration: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """A core/v1 Event on the TenantMigration (what `kubectl describe tm` shows)."""
        meta = migration["metadata"]
        now = iso(time.time())
        self.core.create_namespaced_event(
            meta["namespace"],
            cast(
                Any,
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {
                        "generateName": f"{meta['name']}.",
                        "namespace": meta["namespace"],
                    },
                    "involvedObject": {
                        "apiVersion": API_VERSION,
                        "kind": KIND,
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                        "uid": meta["uid"],
                    },
                    "type": type_,
                    "reason": reason,
                    "message": message[:1000],
                    "source": {"component": COMPONENT},
                    "reportingComponent": f"{GROUP}/operator",
                    "reportingInstance": self.instance[:128],
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                },
            ),
        )


def _summary(table: TenantTable) -> str:
    """A human-readable line next to the compressed table, for `kubectl get cm -o yaml`."""
    counts = {state.name.lower(): n for state, n in table.counts().items() if n}
    return json.dumps({"tenants": len(table.tenants), **counts}, sort_keys=True)
