"""Checks docker-compose.yml's profile `cluster` as Compose reads it; run by docker/ci-check.sh.

    python3 docker/check-cluster-profile.py CONFIG.yml

CONFIG.yml is the output of `docker-compose config` (anchors and merges resolved, paths made
absolute). Run from the repository's top level: it also reads pipeline.toml and the cluster's
configuration file. Prints one line per check, "ok<TAB>what held" or "fail<TAB>what did not";
ci-check.sh prints and counts them. Needs Python 3.11 (tomllib) and PyYAML, which Debian's
docker-compose 1.29 depends on.
"""

import os
import sys
import tomllib

import yaml

PROFILE = "cluster"
DEFAULT_SERVICES = ["db", "pipeline", "scheduler"]
CLUSTER_IMAGE = "pipeline-cluster:latest"
# The port each role takes when its command has no --port (see `pipeline cluster --help`).
DEFAULT_PORTS = {"scheduler": "50050", "executor": "50051"}
# The options of customer_daily_stats that tell where the cluster is; the cluster's configuration
# is the default pipeline plus these.
ENGINE_KEYS = ("engine", "scheduler", "snapshot_dir")


def report(held, message, found=""):
    """One line; what was found instead is shown only when the check failed."""
    if not held and found:
        message += f" (found: {found})"
    print(("ok" if held else "fail") + "\t" + message)


def flag(command, name):
    """The value after `name` in a command list, or None."""
    if name in command[:-1]:
        return command[command.index(name) + 1]
    return None


def role(service):
    """`scheduler`, `executor` or None (a pipeline) from `pipeline cluster ROLE ...`."""
    command = service.get("command") or []
    if len(command) >= 2 and command[0] == "cluster":
        return command[1]
    return None


def mounts(service, named):
    """(volume, target, writable) of each named volume the service mounts.

    docker-compose 1.29 writes short syntax ("name:/path:ro"), `docker compose` the long one.
    """
    found = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            source, target = entry.get("source"), entry.get("target")
            writable = not entry.get("read_only", False)
        else:
            parts = entry.split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else None
            writable = not (len(parts) > 2 and "ro" in parts[2].split(","))
        if source in named and target:
            found.append((source, target, writable))
    return found


def features(service):
    """The cargo features the service's image is built with (the build arg FEATURES)."""
    build = service.get("build")
    args = (build.get("args") or {}) if isinstance(build, dict) else {}
    if isinstance(args, list):  # ["FEATURES=ballista"]
        args = dict(a.split("=", 1) for a in args if "=" in a)
    return (args.get("FEATURES") or "").replace(",", " ").split()


def main(config_path):
    with open(config_path, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    services = config.get("services") or {}
    named_volumes = set((config.get("volumes") or {}).keys())

    default = sorted(n for n, s in services.items() if not s.get("profiles"))
    report(
        default == DEFAULT_SERVICES,
        f"services without a profile: {' '.join(DEFAULT_SERVICES)}",
        " ".join(default),
    )
    for name in default:
        if features(services[name]):
            report(False, f"{name} (no profile) builds with FEATURES={' '.join(features(services[name]))}; the default image has none")

    cluster = {n: s for n, s in services.items() if PROFILE in (s.get("profiles") or [])}
    if not cluster:
        report(False, f"no service in the profile {PROFILE}")
        return
    schedulers = [n for n, s in cluster.items() if role(s) == "scheduler"]
    executors = [n for n, s in cluster.items() if role(s) == "executor"]
    pipelines = [n for n, s in cluster.items() if role(s) is None]
    roles = (
        f"scheduler {' '.join(schedulers) or 'none'}, executors {' '.join(executors) or 'none'}, "
        f"pipeline {' '.join(pipelines) or 'none'}"
    )
    held = len(schedulers) == 1 and len(executors) >= 2 and len(pipelines) == 1
    report(
        held,
        f"profile {PROFILE}: " + (roles if held else "one scheduler, two executors or more, one pipeline"),
        roles,
    )

    # Ballista's services have no authentication: nothing of the profile reaches the host.
    exposed = [
        n
        for n, s in cluster.items()
        if s.get("ports") or s.get("network_mode") == "host"
    ]
    report(
        not exposed,
        f"profile {PROFILE}: no port published, no host network (Ballista has no authentication)",
        " ".join(exposed),
    )

    # One image, built from the Dockerfile with the feature.
    wrong = [
        n
        for n, s in cluster.items()
        if s.get("image") != CLUSTER_IMAGE or "ballista" not in features(s)
    ]
    report(
        not wrong,
        f"profile {PROFILE}: image {CLUSTER_IMAGE}, built with the build arg FEATURES=ballista",
        "not so in " + " ".join(wrong),
    )

    if len(schedulers) != 1 or not pipelines:
        return
    scheduler = schedulers[0]
    scheduler_command = cluster[scheduler]["command"]
    scheduler_port = flag(scheduler_command, "--port") or DEFAULT_PORTS["scheduler"]
    scheduler_address = f"{scheduler}:{scheduler_port}"

    # Every role listens on the stack's network and advertises its service name, the name the
    # pipeline and the other roles resolve.
    for name in [scheduler, *executors]:
        command = cluster[name]["command"]
        bind = flag(command, "--bind")
        external = flag(command, "--external-host")
        report(
            bind == "0.0.0.0" and external == name,
            f"{name}: --bind 0.0.0.0 --external-host {name}",
            f"--bind {bind}, --external-host {external}",
        )
    for name in executors:
        given = flag(cluster[name]["command"], "--scheduler") or ""
        report(
            given.removeprefix("df://") == scheduler_address,
            f"{name}: --scheduler {scheduler_address}",
            given or "none",
        )

    # The shared volume: the pipeline writes snapshots; the scheduler (which lists the files to plan
    # the scans) and every executor read them at the same path.
    pipeline = pipelines[0]
    shared = None
    for volume, target, writable in mounts(cluster[pipeline], named_volumes):
        if writable and all(
            any(v == volume and t == target for v, t, _ in mounts(cluster[e], named_volumes))
            for e in executors + [scheduler]
        ):
            shared = (volume, target)
            break
    report(
        shared is not None,
        f"the named volume {shared[0]} at {shared[1]} in {pipeline} (writable), the scheduler and every executor"
        if shared
        else f"no named volume mounted at one path in {pipeline} (writable), the scheduler and every executor",
    )

    # The pipeline's configuration: a file at the top level, shipped in the image, naming the
    # scheduler service and the shared volume's path.
    environment = cluster[pipeline].get("environment") or {}
    if isinstance(environment, list):
        environment = dict(e.split("=", 1) for e in environment if "=" in e)
    config_in_image = environment.get("PIPELINE_CONFIG") or ""
    config_file = os.path.basename(config_in_image)
    if os.path.dirname(config_in_image) not in ("/app", "") or not os.path.isfile(config_file):
        report(False, f"{pipeline}: PIPELINE_CONFIG={config_in_image or '(unset)'} is not /app/FILE with FILE at the top level")
        return
    with open("Dockerfile", encoding="utf-8") as f:
        copied = any(
            line.split()[:1] == ["COPY"] and config_file in line.split()[1:-1]
            for line in f
        )
    report(copied, f"{pipeline}: PIPELINE_CONFIG={config_in_image}, copied into the image by the Dockerfile")

    with open(config_file, "rb") as f:
        cluster_config = tomllib.load(f)
    with open("pipeline.toml", "rb") as f:
        default_config = tomllib.load(f)
    stats = [s for s in cluster_config.get("stages", []) if s.get("type") == "customer_daily_stats"]
    if len(stats) != 1:
        report(False, f"{config_file}: expected one customer_daily_stats stage, found {len(stats)}")
        return
    stage = stats[0]
    expected = {"engine": "ballista", "scheduler": f"df://{scheduler_address}"}
    if shared is not None:  # else reported above
        expected["snapshot_dir"] = shared[1]
    report(
        all(stage.get(k) == v for k, v in expected.items()),
        f"{config_file}: " + ", ".join(f'{k} = "{v}"' for k, v in expected.items()),
        ", ".join(f"{k} = {stage.get(k)!r}" for k in expected),
    )
    for key in ENGINE_KEYS:
        stage.pop(key, None)
    report(
        cluster_config == default_config,
        f"{config_file} is pipeline.toml plus {', '.join(ENGINE_KEYS)} on customer_daily_stats",
    )


if __name__ == "__main__":
    main(sys.argv[1])
