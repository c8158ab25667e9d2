"""Query and mutation fields the emulator implements, as graphql-core resolvers.

graphql-core's default resolver reads a field from a dict, calling it when it is a function, so
the root object exposes one method per top-level field and views are dicts whose fields with
arguments are functions. Types come from Railway's schema; only the behaviour lives here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import http_metrics, logs
from .lifecycle import RESTARTABLE, can_rollback, order_key, read, remove, restart, settle, start_deployment
from .scaling import SCALING_FIELDS, ScalingRefused, apply_scaling
from .store import INSTANCE_DEFAULTS, Store, instance_key, new_id, now, parse_iso_ns, variables_key


class EmulatorError(Exception):
    """An execution error: HTTP 200 with this message in `errors[]`, as Railway answers."""

    def __init__(self, message: str, code: str = "INTERNAL_SERVER_ERROR"):
        super().__init__(message)
        self.code = code


def not_found(kind: str) -> EmulatorError:
    return EmulatorError(f"{kind} not found")


NOT_AUTHORIZED = "Not Authorized"
# Railway's documented volume backup schedules: when they run and how long their backups are kept.
BACKUP_SCHEDULES = {
    "DAILY": ("0 0 * * *", 6 * 24 * 3600),
    "WEEKLY": ("0 0 * * 0", 30 * 24 * 3600),
    "MONTHLY": ("0 0 1 * *", 90 * 24 * 3600),
}


# The service instance settings that EnvironmentConfig holds under services.<id>.deploy.
SCALING = ("numReplicas", "multiRegionConfig")  # what a patch scales, checked as Railway checks it
CONFIG_DEPLOY_FIELDS = (
    "startCommand",
    "preDeployCommand",
    "healthcheckPath",
    "healthcheckTimeout",
    "numReplicas",
    "multiRegionConfig",
    "cronSchedule",
    "restartPolicyType",
    "restartPolicyMaxRetries",
    "sleepApplication",
)


@dataclass(frozen=True)
class Caller:
    """Who sent the request: an account/workspace token, or a project token for one environment."""

    kind: str  # "account" | "project" | "dashboard"
    project_id: str | None = None
    environment_id: str | None = None

    def check_project(self, project_id: str) -> None:
        if self.kind == "project" and project_id != self.project_id:
            raise EmulatorError(NOT_AUTHORIZED)


def paginate(
    nodes: list[dict[str, Any]],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """A Relay connection over `nodes` (already in order), cursors being node ids: `after` /
    `before` cut the list at a cursor, then `first` keeps the leading nodes and `last` the trailing
    ones. hasNextPage / hasPreviousPage say whether nodes were cut off on that side."""
    ids = [node.get("id") for node in nodes]
    start, end = 0, len(nodes)
    for cursor, is_after in ((after, True), (before, False)):
        if cursor is None:
            continue
        if cursor not in ids:
            raise EmulatorError(f"Invalid cursor {cursor}", "BAD_USER_INPUT")
        if is_after:
            start = max(start, ids.index(cursor) + 1)
        else:
            end = min(end, ids.index(cursor))
    end = max(start, end)
    for count, name in ((first, "first"), (last, "last")):
        if count is not None and count < 0:
            raise EmulatorError(f"`{name}` must not be negative", "BAD_USER_INPUT")
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    page = connection(nodes[start:end])
    page["pageInfo"]["hasNextPage"] = end < len(nodes)
    page["pageInfo"]["hasPreviousPage"] = start > 0
    return page


def connection(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "edges": [{"node": node, "cursor": node.get("id", "")} for node in nodes],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": nodes[0].get("id") if nodes else None,
            "endCursor": nodes[-1].get("id") if nodes else None,
        },
    }


class Root:
    """The Query and Mutation root: one method per field the project uses."""

    def __init__(self, store: Store, caller: Caller):
        self.store = store
        self.state = store.state
        self.caller = caller
        with store.lock:
            if settle(self.state):  # the time-based lifecycle: deployments where the clock says
                store.save()

    # ---- lookups -------------------------------------------------------------------------

    def _project(self, project_id: str) -> dict[str, Any]:
        project = self.state["projects"].get(project_id)
        if project is None:
            raise not_found("Project")
        self.caller.check_project(project_id)
        return project

    def _environment(self, environment_id: str) -> dict[str, Any]:
        environment = self.state["environments"].get(environment_id)
        if environment is None:
            raise not_found("Environment")
        self.caller.check_project(environment["projectId"])
        return environment

    def _service(self, service_id: str) -> dict[str, Any]:
        service = self.state["services"].get(service_id)
        if service is None:
            raise not_found("Service")
        self.caller.check_project(service["projectId"])
        return service

    def _instance(self, environment_id: str, service_id: str) -> dict[str, Any]:
        self._environment(environment_id)
        self._service(service_id)
        instance = self.state["instances"].get(instance_key(environment_id, service_id))
        if instance is None:
            raise not_found("ServiceInstance")
        return instance

    # ---- views ---------------------------------------------------------------------------

    def _environment_view(self, environment: dict[str, Any]) -> dict[str, Any]:
        instances = [v for v in self.state["volume_instances"].values() if v["environmentId"] == environment["id"]]
        services = [i for i in self.state["instances"].values() if i["environmentId"] == environment["id"]]
        services.sort(key=lambda i: i["createdAt"])
        return {
            **environment,
            "canAccess": True,
            "unmergedChangesCount": 0,
            "config": lambda _info, decryptVariables=False, **_args: self._environment_config(
                environment["id"], bool(decryptVariables)
            ),
            "volumeInstances": lambda _info, **_args: connection([self._volume_instance_view(v) for v in instances]),
            "serviceInstances": lambda _info, **_args: connection([self._instance_view(i) for i in services]),
        }

    def _environment_config(self, environment_id: str, decrypt: bool = False) -> dict[str, Any]:
        """The environment as Railway's EnvironmentConfig shows it, for the parts the emulator models:
        each service's source and deploy settings (unset ones left out, as Railway leaves them) and
        its variables as `variables.<NAME>.value`, unrendered (a `${{...}}` reference stays one).
        Values only with `decryptVariables: true`; without it the emulator lists the names with no
        value, where Railway gives its encrypted form, which no client can use."""
        services = {}
        for instance in self.state["instances"].values():
            if instance["environmentId"] != environment_id:
                continue
            deploy = {key: instance.get(key) for key in CONFIG_DEPLOY_FIELDS if instance.get(key) is not None}
            values = self.state["variables"].get(variables_key(environment_id, instance["serviceId"]), {})
            variables = {name: ({"value": value} if decrypt else {}) for name, value in values.items()}
            services[instance["serviceId"]] = {
                "source": instance.get("source") or {},
                "deploy": deploy,
                "variables": variables,
            }
        return {"services": services}

    def _volume_instance_view(self, instance: dict[str, Any]) -> dict[str, Any]:
        return {**instance, "volume": dict(self.state["volumes"][instance["volumeId"]])}

    def _project_view(self, project: dict[str, Any]) -> dict[str, Any]:
        pid = project["id"]
        environments = [e for e in self.state["environments"].values() if e["projectId"] == pid]
        services = [s for s in self.state["services"].values() if s["projectId"] == pid]
        environments.sort(key=lambda e: e["createdAt"])
        return {
            **project,
            "environments": lambda _info, **_args: connection([self._environment_view(e) for e in environments]),
            "services": lambda _info, **_args: connection([dict(s) for s in services]),
            "primaryEnvironmentId": environments[0]["id"] if environments else None,
        }

    def _deployment_view(self, deployment: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in deployment.items() if not k.startswith("_")}
        view["canRollback"] = can_rollback(self.state, deployment)
        view["canRedeploy"] = True
        view["deploymentStopped"] = deployment["status"] in ("CRASHED", "FAILED", "REMOVED")
        view["instances"] = self._deployment_instances(deployment)
        return view

    @staticmethod
    def _deployment_instances(deployment: dict[str, Any]) -> list[dict[str, str]]:
        """One entry per replica, in the state the deployment's status implies."""
        status = deployment["status"]
        if status == "DEPLOYING" and deployment.get("_restarting"):
            state = "RESTARTING"
        else:
            state = {"DEPLOYING": "INITIALIZING", "SUCCESS": "RUNNING", "CRASHED": "CRASHED"}.get(status)
        if state is None:
            return []
        replicas = deployment["_snapshot"]["instance"].get("numReplicas") or 1
        return [{"id": f"{deployment['id']}-{n}", "status": state} for n in range(replicas)]

    def _instance_view(self, instance: dict[str, Any]) -> dict[str, Any]:
        deployments = [
            d
            for d in self.state["deployments"].values()
            if d["serviceId"] == instance["serviceId"] and d["environmentId"] == instance["environmentId"]
        ]
        deployments.sort(key=order_key)
        latest = self._deployment_view(deployments[-1]) if deployments else None
        return {
            **instance,
            "serviceName": self.state["services"][instance["serviceId"]]["name"],
            "latestDeployment": latest,
            "activeDeployments": [self._deployment_view(d) for d in deployments if d["status"] == "SUCCESS"],
            "isUpdatable": True,
            "domains": lambda _info, **_args: self._instance_domains(instance["environmentId"], instance["serviceId"]),
        }

    def _instance_domains(self, environment_id: str, service_id: str) -> dict[str, list[dict[str, Any]]]:
        def mine(table: str) -> list[dict[str, Any]]:
            return [
                dict(d)
                for d in self.state[table].values()
                if d["serviceId"] == service_id and d["environmentId"] == environment_id
            ]

        return {"serviceDomains": mine("service_domains"), "customDomains": mine("custom_domains")}

    # ---- queries -------------------------------------------------------------------------

    def project(self, _info, id: str) -> dict[str, Any]:
        return self._project_view(self._project(id))

    def projects(self, _info, **_args: Any) -> dict[str, Any]:
        projects = [
            p
            for p in self.state["projects"].values()
            if self.caller.kind != "project" or p["id"] == self.caller.project_id
        ]
        projects.sort(key=lambda p: p["createdAt"])
        return connection([self._project_view(p) for p in projects])

    def environments(self, _info, projectId: str, **_args: Any) -> dict[str, Any]:
        project = self._project(projectId)
        environments = [e for e in self.state["environments"].values() if e["projectId"] == project["id"]]
        environments.sort(key=lambda e: e["createdAt"])
        return connection([self._environment_view(e) for e in environments])

    def environment(self, _info, id: str, projectId: str | None = None) -> dict[str, Any]:
        return self._environment_view(self._environment(id))

    def service(self, _info, id: str) -> dict[str, Any]:
        return dict(self._service(id))

    def serviceInstance(self, _info, environmentId: str, serviceId: str) -> dict[str, Any]:
        return self._instance_view(self._instance(environmentId, serviceId))

    def variables(
        self,
        _info,
        projectId: str,
        environmentId: str,
        serviceId: str | None = None,
        unrendered: bool | None = None,
    ) -> dict[str, str]:
        self._project(projectId)
        self._environment(environmentId)
        if serviceId is not None:
            self._service(serviceId)
        values = dict(self.state["variables"].get(variables_key(environmentId, serviceId), {}))
        return values if unrendered else {k: self._render(environmentId, v) for k, v in values.items()}

    def _render(self, environment_id: str, value: str) -> str:
        """Resolve `${{Service.VAR}}` references the way Railway renders them for a deployment."""
        project_id = self.state["environments"][environment_id]["projectId"]

        def replace(match: re.Match[str]) -> str:
            service_name, var = match.group(1), match.group(2)
            for service in self.state["services"].values():
                if service["name"] == service_name and service["projectId"] == project_id:
                    return self.state["variables"].get(variables_key(environment_id, service["id"]), {}).get(var, "")
            return ""

        return re.sub(r"\$\{\{\s*([\w-]+)\.(\w+)\s*\}\}", replace, value)

    def deployment(self, _info, id: str) -> dict[str, Any]:
        with self.store.lock:
            deployment = self.state["deployments"].get(id)
            if deployment is None:
                raise not_found("Deployment")
            self.caller.check_project(deployment["projectId"])
            read(self.state, deployment)
            self.store.save()
            return self._deployment_view(deployment)

    def deployments(
        self,
        _info,
        input: dict[str, Any],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        """The deployment history, newest first: DeploymentListInput's projectId, environmentId and
        serviceId select, `status: {in, notIn}` filters by status, and first/after/last/before page
        through it (cursors are deployment ids). `includeDeleted` changes nothing: the emulator
        keeps no deleted deployments (REMOVED ones are listed, as Railway lists them)."""
        status = input.get("status") or {}
        wanted, unwanted = status.get("in"), status.get("notIn")
        selected = [
            d
            for d in self.state["deployments"].values()
            if all(input.get(k) in (None, d[k]) for k in ("projectId", "environmentId", "serviceId"))
            and (wanted is None or d["status"] in wanted)
            and (unwanted is None or d["status"] not in unwanted)
        ]
        for d in selected:
            self.caller.check_project(d["projectId"])
        selected.sort(key=order_key, reverse=True)
        return paginate([self._deployment_view(d) for d in selected], first, after, last, before)

    def _logs(self, stream: str, deploymentId: str, **arguments: Any) -> list[dict[str, Any]]:
        deployment = self.state["deployments"].get(deploymentId)
        if deployment is None:
            raise not_found("Deployment")
        self.caller.check_project(deployment["projectId"])
        try:
            return logs.query(
                self.state,
                deploymentId,
                stream,
                limit=arguments.get("limit"),
                start_date=arguments.get("startDate"),
                end_date=arguments.get("endDate"),
                filter=arguments.get("filter"),
            )
        except logs.LogQueryRefused as refused:
            raise EmulatorError(str(refused), "BAD_USER_INPUT") from None

    def deploymentLogs(self, _info, deploymentId: str, **arguments: Any) -> list[dict[str, Any]]:
        with self.store.lock:
            return self._logs("deploy", deploymentId, **arguments)

    def buildLogs(self, _info, deploymentId: str, **arguments: Any) -> list[dict[str, Any]]:
        with self.store.lock:
            return self._logs("build", deploymentId, **arguments)

    def _http_query(self, arguments: dict[str, Any]) -> tuple[float, float]:
        """Check an edge metrics query (the service and environment exist and the caller may read
        them; a project token only its own environment) and return its (start, end) in seconds."""
        self._environment(arguments["environmentId"])
        self._service(arguments["serviceId"])
        if self.caller.kind == "project" and arguments["environmentId"] != self.caller.environment_id:
            raise EmulatorError(NOT_AUTHORIZED)
        try:
            start, end = (parse_iso_ns(arguments[key]) / 1e9 for key in ("startDate", "endDate"))
        except (TypeError, ValueError):
            raise EmulatorError("startDate and endDate must be ISO 8601 date-times", "BAD_USER_INPUT") from None
        return start, end

    def _traffic(self, answer, arguments: dict[str, Any]) -> Any:
        start, end = self._http_query(arguments)
        with self.store.lock:
            records = list(self.state.get("http_traffic", ()))
        try:
            return answer(records, arguments, start, end)
        except http_metrics.TrafficError as error:
            raise EmulatorError(str(error), "BAD_USER_INPUT") from None

    def httpMetricsGroupedByStatus(self, _info, **arguments: Any) -> list[dict[str, Any]]:
        return self._traffic(http_metrics.by_status, arguments)

    def httpDurationMetrics(self, _info, **arguments: Any) -> dict[str, Any]:
        return self._traffic(http_metrics.durations, arguments)

    def projectToken(self, _info) -> dict[str, Any]:
        if self.caller.kind != "project":
            raise EmulatorError("Project Token not found")
        return {"projectId": self.caller.project_id, "environmentId": self.caller.environment_id}

    def me(self, _info) -> dict[str, Any]:
        if self.caller.kind != "account":
            raise EmulatorError(NOT_AUTHORIZED)
        return {"id": "emulator-user", "email": "emulator@example.invalid", "name": "Emulator"}

    # ---- mutations -----------------------------------------------------------------------

    def _require_account(self) -> None:
        if self.caller.kind == "project":
            raise EmulatorError(NOT_AUTHORIZED)

    def projectCreate(self, _info, input: dict[str, Any]) -> dict[str, Any]:
        self._require_account()
        with self.store.lock:
            project = {
                "id": new_id(),
                "name": input.get("name") or "emulated-project",
                "description": input.get("description"),
                "isPublic": bool(input.get("isPublic", False)),
                "prDeploys": bool(input.get("prDeploys", False)),
                "botPrEnvironments": False,
                "focusedPrEnvironments": False,
                "isTempProject": False,
                "workspaceId": input.get("workspaceId"),
                "createdAt": now(self.state),
                "updatedAt": now(self.state),
                "deletedAt": None,
            }
            self.state["projects"][project["id"]] = project
            self._create_environment(project["id"], input.get("defaultEnvironmentName") or "production")
            self.store.save()
            return self._project_view(project)

    def projectUpdate(self, _info, id: str, input: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            project = self._project(id)
            project.update({k: v for k, v in input.items() if v is not None or k == "description"})
            project["updatedAt"] = now(self.state)
            self.store.save()
            return self._project_view(project)

    def projectDelete(self, _info, id: str) -> bool:
        self._require_account()
        with self.store.lock:
            self._project(id)
            for environment in [e for e in self.state["environments"].values() if e["projectId"] == id]:
                self._delete_environment(environment["id"])
            for service_id in [s["id"] for s in self.state["services"].values() if s["projectId"] == id]:
                del self.state["services"][service_id]
            del self.state["projects"][id]
            self.store.save()
            return True

    def _create_environment(self, project_id: str, name: str) -> dict[str, Any]:
        for existing in self.state["environments"].values():
            if existing["projectId"] == project_id and existing["name"] == name:
                raise EmulatorError(f"Environment with name {name} already exists")
        environment = {
            "id": new_id(),
            "name": name,
            "projectId": project_id,
            "isEphemeral": False,
            "createdAt": now(self.state),
            "updatedAt": now(self.state),
            "deletedAt": None,
        }
        self.state["environments"][environment["id"]] = environment
        for service in [s for s in self.state["services"].values() if s["projectId"] == project_id]:
            self._create_instance(environment["id"], service["id"], None)
        return environment

    def environmentCreate(self, _info, input: dict[str, Any]) -> dict[str, Any]:
        self._require_account()
        with self.store.lock:
            self._project(input["projectId"])
            environment = self._create_environment(input["projectId"], input["name"])
            environment["isEphemeral"] = bool(input.get("ephemeral", False))
            self.store.save()
            return self._environment_view(environment)

    def environmentRename(self, _info, id: str, input: dict[str, Any]) -> dict[str, Any]:
        self._require_account()
        with self.store.lock:
            environment = self._environment(id)
            name = input.get("name")
            if not name:
                raise EmulatorError("Environment name is required", "BAD_USER_INPUT")
            for other in self.state["environments"].values():
                if other["projectId"] == environment["projectId"] and other["name"] == name and other["id"] != id:
                    raise EmulatorError(f"Environment with name {name} already exists")
            environment["name"] = name
            environment["updatedAt"] = now(self.state)
            self.store.save()
            return self._environment_view(environment)

    def _delete_environment(self, environment_id: str) -> None:
        del self.state["environments"][environment_id]
        for table in ("instances", "variables"):
            for key in [k for k in self.state[table] if k.startswith(f"{environment_id}:")]:
                del self.state[table][key]
        for table in ("deployments", "volume_instances", "service_domains", "custom_domains"):
            for key in [k for k, v in self.state[table].items() if v["environmentId"] == environment_id]:
                del self.state[table][key]
                if table == "deployments":
                    self.state["logs"].pop(key, None)

    def environmentDelete(self, _info, id: str) -> bool:
        self._require_account()
        with self.store.lock:
            self._environment(id)
            self._delete_environment(id)
            self.store.save()
            return True

    def _create_instance(self, environment_id: str, service_id: str, source: dict[str, Any] | None) -> dict[str, Any]:
        instance = {
            **INSTANCE_DEFAULTS,
            "id": new_id(),
            "serviceId": service_id,
            "environmentId": environment_id,
            "source": source,
            "createdAt": now(self.state),
            "updatedAt": now(self.state),
            "deletedAt": None,
        }
        self.state["instances"][instance_key(environment_id, service_id)] = instance
        return instance

    def serviceCreate(self, _info, input: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            project = self._project(input["projectId"])
            if input.get("environmentId"):
                self._environment(input["environmentId"])
            service = {
                "id": new_id(),
                "name": input.get("name") or f"service-{len(self.state['services']) + 1}",
                "projectId": project["id"],
                "icon": input.get("icon"),
                "createdAt": now(self.state),
                "updatedAt": now(self.state),
                "deletedAt": None,
            }
            self.state["services"][service["id"]] = service
            source = input.get("source")
            # Railway creates the service in every environment of the project (only a fork, which
            # the emulator does not model, keeps a new service to itself).
            environments = [e["id"] for e in self.state["environments"].values() if e["projectId"] == project["id"]]
            for environment_id in environments:
                self._create_instance(environment_id, service["id"], dict(source) if source else None)
                if input.get("variables") and environment_id == input.get("environmentId"):
                    self.state["variables"][variables_key(environment_id, service["id"])] = dict(input["variables"])
                if source and source.get("image"):
                    start_deployment(self.state, service["id"], environment_id)
            self.store.save()
            return dict(service)

    def serviceUpdate(self, _info, id: str, input: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            service = self._service(id)
            service.update({k: v for k, v in input.items() if v is not None})
            service["updatedAt"] = now(self.state)
            self.store.save()
            return dict(service)

    def serviceDelete(self, _info, id: str, environmentId: str | None = None) -> bool:
        """With an environment, that environment's instance only; without, every instance."""
        with self.store.lock:
            self._service(id)
            if environmentId:
                self._environment(environmentId)
            environments = [environmentId] if environmentId else list(self.state["environments"])
            for environment_id in environments:
                self._remove_instance(environment_id, id)
            self._drop_if_unused(id)
            self.store.save()
            return True

    def _remove_instance(self, environment_id: str, service_id: str) -> None:
        """A service leaves one environment: its instance, variables and domains go, its
        deployments end REMOVED, and its volume is detached with its data kept."""
        self.state["instances"].pop(instance_key(environment_id, service_id), None)
        self.state["variables"].pop(variables_key(environment_id, service_id), None)
        for deployment in self.state["deployments"].values():
            if deployment["serviceId"] == service_id and deployment["environmentId"] == environment_id:
                remove(self.state, deployment)
        for table in ("service_domains", "custom_domains"):
            for key in [
                k
                for k, v in self.state[table].items()
                if v["serviceId"] == service_id and v["environmentId"] == environment_id
            ]:
                del self.state[table][key]
        for volume_instance in self.state["volume_instances"].values():
            if volume_instance["serviceId"] == service_id and volume_instance["environmentId"] == environment_id:
                volume_instance["serviceId"] = None  # detached, data kept

    def _drop_if_unused(self, service_id: str) -> None:
        """A service deleted from the last environment that had it is deleted from the project, as
        deleting a service in the dashboard does when no other environment uses it."""
        if not any(i["serviceId"] == service_id for i in self.state["instances"].values()):
            del self.state["services"][service_id]

    def serviceInstanceUpdate(
        self,
        _info,
        serviceId: str,
        input: dict[str, Any],
        environmentId: str | None = None,
    ) -> bool:
        with self.store.lock:
            service = self._service(serviceId)
            if environmentId is None:
                environments = [
                    e["id"] for e in self.state["environments"].values() if e["projectId"] == service["projectId"]
                ]
            else:
                environments = [environmentId]
            instances = [self._instance(environment_id, serviceId) for environment_id in environments]
            for instance in instances:
                self._scale(instance, input)
                for key, value in input.items():
                    if key not in SCALING_FIELDS:
                        instance[key] = dict(value) if isinstance(value, dict) else value
                instance["updatedAt"] = now(self.state)
            self.store.save()
            return True

    @staticmethod
    def _scale(instance: dict[str, Any], change: dict[str, Any]) -> None:
        try:
            apply_scaling(instance, change)
        except ScalingRefused as refused:
            raise EmulatorError(str(refused), "BAD_USER_INPUT") from None

    def variableCollectionUpsert(self, _info, input: dict[str, Any]) -> bool:
        with self.store.lock:
            self._project(input["projectId"])
            self._environment(input["environmentId"])
            service_id = input.get("serviceId")
            if service_id is not None:
                self._instance(input["environmentId"], service_id)
            key = variables_key(input["environmentId"], service_id)
            values = {} if input.get("replace") else dict(self.state["variables"].get(key, {}))
            values.update(input["variables"])
            self.state["variables"][key] = values
            if not input.get("skipDeploys") and service_id is not None:
                start_deployment(self.state, service_id, input["environmentId"])
            self.store.save()
            return True

    def variableDelete(self, _info, input: dict[str, Any]) -> bool:
        with self.store.lock:
            self._project(input["projectId"])
            self._environment(input["environmentId"])
            values = self.state["variables"].get(variables_key(input["environmentId"], input.get("serviceId")), {})
            if input["name"] not in values:
                raise not_found("Variable")
            del values[input["name"]]
            self.store.save()
            return True

    def serviceInstanceDeployV2(self, _info, serviceId: str, environmentId: str, **_args: Any) -> str:
        with self.store.lock:
            self._instance(environmentId, serviceId)
            deployment = start_deployment(self.state, serviceId, environmentId)
            self.store.save()
            return deployment["id"]

    def deploymentRollback(self, _info, id: str) -> bool:
        with self.store.lock:
            target = self.state["deployments"].get(id)
            if target is None:
                raise not_found("Deployment")
            self.caller.check_project(target["projectId"])
            if not can_rollback(self.state, target):  # see lifecycle.py: status, plan retention
                raise EmulatorError("Deployment cannot be rolled back")
            start_deployment(self.state, target["serviceId"], target["environmentId"], rollback_of=target)
            self.store.save()
            return True

    def deploymentRestart(self, _info, id: str) -> bool:
        with self.store.lock:
            deployment = self.state["deployments"].get(id)
            if deployment is None:
                raise not_found("Deployment")
            self.caller.check_project(deployment["projectId"])
            if deployment["status"] not in RESTARTABLE:
                raise EmulatorError(f"Cannot restart a deployment that is {deployment['status']}")
            restart(self.state, deployment)
            self.store.save()
            return True

    # ---- volumes -------------------------------------------------------------------------

    DEFAULT_VOLUME_MB = 5000  # Railway's Hobby default

    def volumeCreate(self, _info, input: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            project = self._project(input["projectId"])
            environment_id = input.get("environmentId")
            service_id = input.get("serviceId")
            if environment_id is not None:
                self._environment(environment_id)
            if service_id is not None:
                self._service(service_id)
                for existing in self.state["volume_instances"].values():
                    if existing["serviceId"] == service_id and existing["environmentId"] == environment_id:
                        raise EmulatorError("Service already has a volume attached")
            volume = {"id": new_id(), "name": f"volume-{len(self.state['volumes']) + 1}", "projectId": project["id"]}
            volume["createdAt"] = now(self.state)
            self.state["volumes"][volume["id"]] = volume
            if environment_id is not None:
                instance = {
                    "id": new_id(),
                    "volumeId": volume["id"],
                    "environmentId": environment_id,
                    "serviceId": service_id,
                    "mountPath": input["mountPath"],
                    "sizeMB": self.DEFAULT_VOLUME_MB,
                    "currentSizeMB": 0.0,
                    "region": input.get("region"),
                    "state": "READY",
                    "isPendingDeletion": False,
                    "externalId": None,
                    "createdAt": now(self.state),
                    "deletedAt": None,
                }
                self.state["volume_instances"][instance["id"]] = instance
            self.store.save()
            return self._volume_view(volume)

    def _volume_view(self, volume: dict[str, Any]) -> dict[str, Any]:
        instances = [dict(v) for v in self.state["volume_instances"].values() if v["volumeId"] == volume["id"]]
        return {**volume, "volumeInstances": lambda _info, **_args: connection(instances)}

    def _volume(self, volume_id: str) -> dict[str, Any]:
        volume = self.state["volumes"].get(volume_id)
        if volume is None:
            raise not_found("Volume")
        self.caller.check_project(volume["projectId"])
        return volume

    def volumeDelete(self, _info, volumeId: str) -> bool:
        with self.store.lock:
            self._volume(volumeId)
            del self.state["volumes"][volumeId]
            for key in [k for k, v in self.state["volume_instances"].items() if v["volumeId"] == volumeId]:
                del self.state["volume_instances"][key]
                self.state["backup_schedules"].pop(key, None)
            self.store.save()
            return True

    def volumeInstanceUpdate(
        self,
        _info,
        volumeId: str,
        input: dict[str, Any],
        environmentId: str | None = None,
    ) -> bool:
        with self.store.lock:
            self._volume(volumeId)
            instances = [
                v
                for v in self.state["volume_instances"].values()
                if v["volumeId"] == volumeId and environmentId in (None, v["environmentId"])
            ]
            if not instances:
                raise not_found("VolumeInstance")
            for instance in instances:
                instance.update({k: v for k, v in input.items() if k in ("mountPath", "serviceId", "state")})
            self.store.save()
            return True

    def environmentPatchCommit(
        self,
        _info,
        environmentId: str,
        patch: dict[str, Any] | None = None,
        commitMessage: str | None = None,
    ) -> str:
        """Only the parts the project and `railway scale` use: `volumes.<volumeId>.sizeMB` (grow
        only, as Railway allows); `services.<serviceId>.deploy` scaling (numReplicas,
        multiRegionConfig); and a service joining or leaving the environment: `isCreated` gives a
        project's service an instance here (with the patch's source and deploy settings), as
        Railway's own clients add a service to one environment, and `isDeleted` removes it, as
        serviceDelete(environmentId) does."""
        with self.store.lock:
            environment = self._environment(environmentId)
            for service_id, change in ((patch or {}).get("services") or {}).items():
                change = change or {}
                if change.get("isDeleted"):
                    self._instance(environmentId, service_id)
                    self._remove_instance(environmentId, service_id)
                    self._drop_if_unused(service_id)
                    continue
                if change.get("isCreated") and instance_key(environmentId, service_id) not in self.state["instances"]:
                    if self._service(service_id)["projectId"] != environment["projectId"]:
                        raise not_found("Service")
                    source = change.get("source")
                    created = self._create_instance(environmentId, service_id, dict(source) if source else None)
                    deploy = change.get("deploy") or {}
                    created.update({k: deploy[k] for k in CONFIG_DEPLOY_FIELDS if k in deploy and k not in SCALING})
                deploy = change.get("deploy") or {}
                scaling = {k: deploy[k] for k in SCALING if k in deploy}
                if scaling:
                    instance = self._instance(environmentId, service_id)
                    self._scale(instance, scaling)
                    instance["updatedAt"] = now(self.state)
            for volume_id, change in ((patch or {}).get("volumes") or {}).items():
                self._volume(volume_id)
                for instance in self.state["volume_instances"].values():
                    if instance["volumeId"] != volume_id or instance["environmentId"] != environmentId:
                        continue
                    size = change.get("sizeMB")
                    if size is not None:
                        if size < instance["sizeMB"]:
                            raise EmulatorError("Volumes cannot be downsized", "BAD_USER_INPUT")
                        instance["sizeMB"] = int(size)
            self.store.save()
            return new_id()

    # ---- domains -------------------------------------------------------------------------

    def serviceDomainCreate(self, _info, input: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            instance = self._instance(input["environmentId"], input["serviceId"])
            service = self.state["services"][instance["serviceId"]]
            environment = self.state["environments"][instance["environmentId"]]
            label = f"{service['name'].lower()}-{environment['name']}-{new_id()[:6]}"
            domain = {
                "id": new_id(),
                "domain": f"{label}.up.railway.app",
                "suffix": "up.railway.app",
                "targetPort": input.get("targetPort"),
                "serviceId": service["id"],
                "environmentId": environment["id"],
                "projectId": service["projectId"],
                "syncStatus": "ACTIVE",
                "createdAt": now(self.state),
            }
            self.state["service_domains"][domain["id"]] = domain
            self.store.save()
            return dict(domain)

    def serviceDomainUpdate(self, _info, input: dict[str, Any]) -> bool:
        """Railway's own domain of a service: a new port, or a new subdomain of the same suffix."""
        with self.store.lock:
            domain = self.state["service_domains"].get(input.get("serviceDomainId") or "")
            if domain is None:
                domain = next(
                    (d for d in self.state["service_domains"].values() if d["domain"] == input["domain"]), None
                )
            if domain is None or domain["serviceId"] != input["serviceId"]:
                raise not_found("ServiceDomain")
            self.caller.check_project(domain["projectId"])
            if not input["domain"].endswith("." + domain["suffix"]):
                raise EmulatorError(f"Domain must end in .{domain['suffix']}", "BAD_USER_INPUT")
            domain["domain"] = input["domain"]
            if input.get("targetPort") is not None:
                domain["targetPort"] = input["targetPort"]
            self.store.save()
            return True

    def serviceDomainDelete(self, _info, id: str) -> bool:
        with self.store.lock:
            domain = self.state["service_domains"].get(id)
            if domain is None:
                raise not_found("ServiceDomain")
            self.caller.check_project(domain["projectId"])
            del self.state["service_domains"][id]
            self.store.save()
            return True

    def customDomainCreate(self, _info, input: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            self._project(input["projectId"])
            self._instance(input["environmentId"], input["serviceId"])
            name = input["domain"].lower().rstrip(".")
            if any(d["domain"] == name for d in self.state["custom_domains"].values()):
                raise EmulatorError("Domain is already in use", "BAD_USER_INPUT")
            labels = name.split(".")
            host_label, zone = (labels[0], ".".join(labels[1:])) if len(labels) > 2 else ("@", name)
            target = f"{new_id()[:8]}.up.railway.app"
            domain = {
                "id": new_id(),
                "domain": name,
                "targetPort": input.get("targetPort"),
                "serviceId": input["serviceId"],
                "environmentId": input["environmentId"],
                "projectId": input["projectId"],
                "syncStatus": "ACTIVE",
                "isRailwayDomain": False,
                "createdAt": now(self.state),
                "status": {
                    "verified": False,
                    "certificateStatus": "CERTIFICATE_STATUS_TYPE_VALIDATING_OWNERSHIP",
                    "verificationDnsHost": f"_railway-verify.{host_label}" if host_label != "@" else "_railway-verify",
                    "verificationToken": f"railway-verify={new_id().replace('-', '')}",
                    "dnsRecords": [
                        {
                            "hostlabel": host_label,
                            "fqdn": name,
                            "zone": zone,
                            "recordType": "DNS_RECORD_TYPE_CNAME",
                            "purpose": "DNS_RECORD_PURPOSE_TRAFFIC_ROUTE",
                            "requiredValue": target,
                            "currentValue": "",
                            "status": "DNS_RECORD_STATUS_REQUIRES_UPDATE",
                        }
                    ],
                },
            }
            self.state["custom_domains"][domain["id"]] = domain
            self.store.save()
            return domain

    def customDomainUpdate(self, _info, id: str, environmentId: str, targetPort: int | None = None) -> bool:
        with self.store.lock:
            domain = self.state["custom_domains"].get(id)
            if domain is None or domain["environmentId"] != environmentId:
                raise not_found("CustomDomain")
            self.caller.check_project(domain["projectId"])
            domain["targetPort"] = targetPort
            self.store.save()
            return True

    def customDomainDelete(self, _info, id: str) -> bool:
        with self.store.lock:
            domain = self.state["custom_domains"].get(id)
            if domain is None:
                raise not_found("CustomDomain")
            self.caller.check_project(domain["projectId"])
            del self.state["custom_domains"][id]
            self.store.save()
            return True

    def domains(self, _info, projectId: str, environmentId: str, serviceId: str) -> dict[str, Any]:
        self._project(projectId)
        self._instance(environmentId, serviceId)
        return self._instance_domains(environmentId, serviceId)

    # ---- volume backup schedules ---------------------------------------------------------

    def _volume_instance(self, volume_instance_id: str) -> dict[str, Any]:
        instance = self.state["volume_instances"].get(volume_instance_id)
        if instance is None:
            raise not_found("VolumeInstance")
        self._volume(instance["volumeId"])
        return instance

    def volumeInstanceBackupScheduleList(self, _info, volumeInstanceId: str) -> list[dict[str, Any]]:
        self._volume_instance(volumeInstanceId)
        return [dict(s) for s in self.state["backup_schedules"].get(volumeInstanceId, [])]

    def volumeInstanceBackupScheduleUpdate(self, _info, volumeInstanceId: str, kinds: list[str]) -> bool:
        with self.store.lock:
            self._volume_instance(volumeInstanceId)
            current = {s["kind"]: s for s in self.state["backup_schedules"].get(volumeInstanceId, [])}
            schedules = []
            for kind in sorted(set(kinds)):
                cron, retention = BACKUP_SCHEDULES[kind]
                schedules.append(
                    current.get(kind)
                    or {
                        "id": new_id(),
                        "name": kind.title(),
                        "cron": cron,
                        "kind": kind,
                        "retentionSeconds": retention,
                        "createdAt": now(self.state),
                    }
                )
            self.state["backup_schedules"][volumeInstanceId] = schedules
            self.store.save()
            return True
