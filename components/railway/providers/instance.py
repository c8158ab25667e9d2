"""A service's settings in one environment: image, start and pre-deploy commands, health check,
restart policy, replicas and region, cron schedule.

Railway applies them with serviceInstanceUpdate, which deploys nothing by itself; the
Deployment resource rolls them out, once per change.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from .base import RailwayProvider, applied_now, pick

# our input name -> ServiceInstance / ServiceInstanceUpdateInput field
API_FIELDS = {
    "start_command": "startCommand",
    "pre_deploy_command": "preDeployCommand",
    "healthcheck_path": "healthcheckPath",
    "healthcheck_timeout": "healthcheckTimeout",
    "restart_policy_type": "restartPolicyType",
    "restart_policy_max_retries": "restartPolicyMaxRetries",
    "num_replicas": "numReplicas",
    "region": "region",
    "cron_schedule": "cronSchedule",
}
SETTINGS = ("image", *API_FIELDS)


def update_input(props: dict[str, Any]) -> dict[str, Any]:
    """The serviceInstanceUpdate input for the declared settings (null unsets a field)."""
    data: dict[str, Any] = {"source": {"image": props["image"]}}
    for ours, theirs in API_FIELDS.items():
        data[theirs] = props.get(ours)
    if props.get("region"):
        data["multiRegionConfig"] = {props["region"]: {"numReplicas": props.get("num_replicas") or 1}}
    return data


def settings_from_api(instance: dict[str, Any]) -> dict[str, Any]:
    settings = {ours: instance.get(theirs) for ours, theirs in API_FIELDS.items()}
    settings["image"] = (instance.get("source") or {}).get("image")
    return settings


class ServiceInstanceProvider(RailwayProvider):
    inputs = ("service_id", "environment_id", *SETTINGS)
    replace_on = ("service_id", "environment_id")

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        with self.client() as client:
            client.execute(
                "serviceInstanceUpdate",
                {
                    "serviceId": props["service_id"],
                    "environmentId": props["environment_id"],
                    "input": update_input(props),
                },
            )
        return {**pick(props, self.inputs), "applied_at": applied_now()}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['environment_id']}:{props['service_id']}", self._apply(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        instance = self.lookup(
            "serviceInstance", {"environmentId": props["environment_id"], "serviceId": props["service_id"]}
        )
        if instance is None:
            return ReadResult(None, {})
        current = {**pick(props, ("service_id", "environment_id")), **settings_from_api(instance)}
        return ReadResult(id_, {**current, "applied_at": props.get("applied_at")}, current)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: the settings go with the service instance."""


class ServiceInstance(Resource, module="railway", name="ServiceInstance"):
    applied_at: pulumi.Output[str]

    def __init__(
        self, name: str, service_id: pulumi.Input[str], environment_id: pulumi.Input[str], settings: dict, opts=None
    ):
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown service settings: {', '.join(sorted(unknown))}")
        props = {
            "service_id": service_id,
            "environment_id": environment_id,
            **{k: settings.get(k) for k in SETTINGS},
            "applied_at": None,
        }
        super().__init__(ServiceInstanceProvider(), name, props, opts)
