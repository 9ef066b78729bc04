#!/usr/bin/env python3
"""The rules of Inlet's Dockerfile and docker-compose.yml, checked without a Docker engine.

Run by scripts/check-containers.sh, which installs what this needs and passes:
  containers.py ROOT SWIFT_VERSION_OUTPUT COMPOSE_CONFIG_YAML
where SWIFT_VERSION_OUTPUT is `swift --version`'s text and COMPOSE_CONFIG_YAML the file holding
`docker-compose config`'s normalised output. Prints every broken rule, exits 1 if there is one.
"""

import glob
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

failures = []


def fail(rule, why):
    failures.append(f"{rule}: {why}")


def ok(rule):
    print(f"  ok  {rule}")


# ---- Dockerfile parsing ---------------------------------------------------------------------


class Instruction:
    def __init__(self, line, keyword, args):
        self.line = line  # first line number
        self.keyword = keyword  # upper-case
        self.args = args  # the rest, continuation lines joined

    def flags_and_rest(self):
        """Leading --flag[=value] options, and the text after them."""
        flags = {}
        rest = self.args
        while True:
            m = re.match(r"\s*--([a-z-]+)(?:=(\S*))?\s+", rest)
            if not m:
                return flags, rest.strip()
            flags[m.group(1)] = m.group(2) if m.group(2) is not None else ""
            rest = rest[m.end():]


def parse_dockerfile(path):
    instructions = []
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        start = i
        text = lines[i]
        i += 1
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        # Continuation lines; comment lines inside a continued instruction are dropped, as Docker does.
        while text.rstrip().endswith("\\") and i < len(lines):
            text = text.rstrip()[:-1] + " "
            nxt = lines[i]
            i += 1
            if nxt.lstrip().startswith("#"):
                text += " \\"
                continue
            text += nxt
        keyword, _, args = text.strip().partition(" ")
        instructions.append(Instruction(start + 1, keyword.upper(), args.strip()))
    return instructions


class Stage:
    def __init__(self, index, image, name, line):
        self.index = index
        self.image = image
        self.name = name
        self.line = line
        self.instructions = []

    def label(self):
        return f"stage {self.index} ({self.name or self.image}, line {self.line})"

    def all(self, keyword):
        return [ins for ins in self.instructions if ins.keyword == keyword]


def stages_of(instructions):
    stages = []
    for ins in instructions:
        if ins.keyword == "FROM":
            _, rest = ins.flags_and_rest()
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append(Stage(len(stages), words[0], name, ins.line))
        elif stages:
            stages[-1].instructions.append(ins)
    return stages


def exec_form(text):
    """A JSON array of strings, or None (shell form)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def copy_sources(ins):
    flags, rest = ins.flags_and_rest()
    words = exec_form(rest)
    if words is None:
        words = shlex.split(rest)
    return flags, words[:-1], words[-1] if words else None


def version_tuple(text):
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return tuple(int(g or 0) for g in m.groups())


def show(v):
    return ".".join(map(str, v))


# ---- .dockerignore --------------------------------------------------------------------------


def ignore_patterns(root):
    path = os.path.join(root, ".dockerignore")
    if not os.path.exists(path):
        return []
    patterns = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex = ""
        j = 0
        while j < len(pattern):
            c = pattern[j]
            if pattern.startswith("**", j):
                regex += ".*"
                j += 2
                continue
            regex += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c) if c not in "[]-^" else c)
            j += 1
        patterns.append((negate, re.compile(regex + r"(/.*)?")))
    return patterns


def ignored(patterns, relpath):
    """Docker's rule: the last matching pattern decides; a pattern matches a path or its parents."""
    result = False
    for negate, regex in patterns:
        if regex.fullmatch(relpath):
            result = not negate
    return result


# ---- the Dockerfile's rules -----------------------------------------------------------------


def check_dockerfile(root, swift_version_output):
    print("Dockerfile:")
    dockerfile = os.path.join(root, "Dockerfile")
    stages = stages_of(parse_dockerfile(dockerfile))
    if len(stages) < 2:
        fail("stages", f"a build stage and a runtime stage are needed, found {len(stages)} FROM")
        return

    # The build stage: the one that runs `swift build`.
    builds = [s for s in stages if any("swift build" in r.args for r in s.all("RUN"))]
    if not builds:
        fail("build stage", "no stage RUNs `swift build`")
        return
    build = builds[0]
    runtime = stages[-1]
    if runtime is build:
        fail("runtime stage", "the last stage is the build stage: the image would ship the toolchain")
        return
    ok(f"stages: build = {build.label()}, runtime = {runtime.label()}")

    # Swift version: the build image's tag, the local toolchain, Package.swift's tools version.
    m = re.fullmatch(r"(?:docker\.io/)?(?:library/)?swift:([0-9.]+)-([a-z]+)(-slim)?", build.image)
    if not m:
        fail("build image", f"{build.image!r} is not an official swift:X.Y.Z-<debian codename> image")
        return
    image_version, build_codename = version_tuple(m.group(1)), m.group(2)
    if image_version is None or m.group(1).count(".") != 2:
        fail("build image", f"{build.image!r}: pin the Swift version as major.minor.patch (it floats otherwise)")
        return
    local = re.search(r"Swift version (\d+\.\d+(?:\.\d+)?)", swift_version_output)
    if not local:
        fail("swift version", f"cannot read a version from `swift --version`: {swift_version_output.strip()!r}")
        return
    local_version = version_tuple(local.group(1))
    if image_version != local_version:
        fail(
            "swift version",
            f"the build image is Swift {show(image_version)} ({build.image}), the toolchain here "
            f"(`swift --version`) is {show(local_version)}: the image must build with the toolchain "
            f"the tests ran with; change the FROM line of the build stage (line {build.line})",
        )
    else:
        ok(f"build image Swift {show(image_version)} = local toolchain")
    manifest = open(os.path.join(root, "Package.swift")).read()
    tools = re.search(r"^//\s*swift-tools-version\s*:\s*(\d+\.\d+(?:\.\d+)?)", manifest, re.M)
    if not tools:
        fail("tools version", "Package.swift has no `// swift-tools-version:` line")
    elif version_tuple(tools.group(1)) > image_version:
        fail("tools version", f"Package.swift needs tools {tools.group(1)}, newer than the build image's Swift {show(image_version)}")
    else:
        ok(f"Package.swift tools {tools.group(1)} <= {show(image_version)}")

    # Each `swift build` command of the build stage (RUN lines split at && ; |).
    commands = [c.strip() for r in build.all("RUN") for c in re.split(r"&&|;|\|\|?", r.args)]
    builds_of = {p: [c for c in commands if c.startswith("swift build") and re.search(rf"--product\s+{p}\b", c)] for p in ("inlet", "migrator")}
    static = True
    for product, found in builds_of.items():
        release = [c for c in found if re.search(r"(-c|--configuration)\s+release\b", c)]
        if not release:
            fail("release build", f"the build stage does not run `swift build -c release --product {product}`")
        elif not any("--static-swift-stdlib" in c or "-static-stdlib" in c for c in release):
            static = False

    # The runtime stage: slim Debian of the same release (glibc, libpq), both binaries, libpq5.
    rm = re.fullmatch(r"(?:docker\.io/)?(?:library/)?(?:debian:([a-z]+)-slim|swift:([0-9.]+)-([a-z]+)-slim)", runtime.image)
    if not rm:
        fail("runtime image", f"{runtime.image!r}: use debian:<codename>-slim or swift:X.Y.Z-<codename>-slim")
    else:
        before = len(failures)
        codename = rm.group(1) or rm.group(3)
        if codename != build_codename:
            fail("runtime image", f"built on Debian {build_codename}, run on {codename}: glibc and libpq must be the same release")
        if rm.group(2) and version_tuple(rm.group(2)) != image_version:
            fail("runtime image", f"Swift runtime {rm.group(2)} differs from the build's {show(image_version)}")
        if not static and not rm.group(2) and not any("/usr/lib/swift" in c.args for c in runtime.all("COPY")):
            fail("swift runtime", "dynamic Swift stdlib (no --static-swift-stdlib) on debian-slim without copying /usr/lib/swift: the binaries cannot start")
        if len(failures) == before:
            ok(f"runtime {runtime.image}, Swift stdlib {'static' if static else 'dynamic'}")
    if not any(re.search(r"\blibpq5\b", r.args) for r in runtime.all("RUN")):
        fail("runtime packages", "the runtime stage does not install libpq5")
    copied = set()
    build_refs = {str(build.index)} | ({build.name} if build.name else set())
    for c in runtime.all("COPY"):
        flags, sources, _ = copy_sources(c)
        if flags.get("from") in build_refs:
            copied |= {os.path.basename(s) for s in sources}
    for binary in ("inlet", "migrator"):
        if binary not in copied:
            fail("runtime binaries", f"the runtime stage does not COPY --from={build.name or build.index} the `{binary}` binary")
    if {"inlet", "migrator"} <= copied:
        ok("runtime copies inlet and migrator from the build stage")

    # USER: the runtime stage's last USER, not root.
    users = runtime.all("USER")
    if not users:
        fail("user", "the runtime stage has no USER: the server would run as root")
    else:
        user = users[-1].args.split(":")[0].strip()
        if user in ("", "root", "0"):
            fail("user", f"USER {users[-1].args} (line {users[-1].line}) is root")
        elif not user.isdigit():
            fail("user", f"USER {user}: give the fixed numeric uid (a runtime checks runAsNonRoot by number)")
        else:
            ok(f"USER {users[-1].args}")

    # HEALTHCHECK: exec form, `inlet healthcheck`.
    checks = runtime.all("HEALTHCHECK")
    if not checks:
        fail("healthcheck", "the runtime stage has no HEALTHCHECK")
    else:
        flags, rest = checks[-1].flags_and_rest()
        keyword, _, command = rest.partition(" ")
        words = exec_form(command.strip()) if keyword.upper() == "CMD" else None
        if words is None:
            fail("healthcheck", f"line {checks[-1].line}: HEALTHCHECK must be CMD [\"inlet\", \"healthcheck\"] in exec form (JSON), not {rest!r}")
        elif words[:2] != ["inlet", "healthcheck"]:
            fail("healthcheck", f"line {checks[-1].line}: HEALTHCHECK runs {words}, not inlet healthcheck")
        else:
            timeout = flags.get("timeout")
            if timeout and (not re.fullmatch(r"\d+s", timeout) or int(timeout[:-1]) <= 3):
                fail("healthcheck", f"--timeout={timeout}: Docker's timeout must exceed `inlet healthcheck`'s own 3 s")
            else:
                ok(f"HEALTHCHECK {json.dumps(words)}")
    if not any(e.args.split()[0] == "8080" or e.args.split()[0].startswith("8080/") for e in runtime.all("EXPOSE")):
        fail("expose", "the runtime stage does not EXPOSE 8080")

    # COPY/ADD sources from the build context exist and are not left out by .dockerignore.
    patterns = ignore_patterns(root)
    before = len(failures)
    for stage in stages:
        for c in stage.all("COPY") + stage.all("ADD"):
            flags, sources, _ = copy_sources(c)
            if "from" in flags:
                if flags["from"] not in {str(s.index) for s in stages[: stage.index]} | {s.name for s in stages[: stage.index] if s.name}:
                    fail("copy", f"line {c.line}: --from={flags['from']} is not an earlier stage")
                continue
            matched_any = missing_literal = False
            for source in sources:
                is_glob = any(ch in source for ch in "*?[")
                matches = [os.path.relpath(p, root) for p in glob.glob(os.path.join(root, source))]
                matches = [p for p in matches if not ignored(patterns, p)]
                if matches:
                    matched_any = True
                elif not is_glob:
                    path = os.path.join(root, source)
                    why = "is left out by .dockerignore" if os.path.exists(path) else "does not exist in the repository"
                    fail("copy", f"line {c.line}: COPY source {source!r} {why}")
                    missing_literal = True
            if sources and not matched_any and not missing_literal:
                fail("copy", f"line {c.line}: no COPY source matches anything: {sources}")
    if len(failures) == before:
        ok("COPY sources exist in the build context")


# ---- `inlet healthcheck` is a subcommand ----------------------------------------------------


def check_healthcheck_command(root):
    print("inlet healthcheck:")
    app = os.path.join(root, "Sources", "App")
    text = ""
    for path in sorted(glob.glob(os.path.join(app, "**", "*.swift"), recursive=True)):
        text += open(path).read() + "\n"
    # ArgumentParser names a command after its type (Healthcheck -> "healthcheck") unless
    # commandName says otherwise; the type must be in some command's subcommands.
    names = set(re.findall(r"struct\s+(\w+)\s*:[^{]*ParsableCommand[^{]*\{[^}]*?commandName:\s*\"healthcheck\"", text, re.S))
    if re.search(r"struct\s+Healthcheck\s*:[^{]*ParsableCommand", text):
        names.add("Healthcheck")
    registered = [n for n in names if re.search(rf"subcommands:\s*\[[^\]]*\b{n}\.self", text, re.S)]
    if not registered:
        fail(
            "inlet healthcheck",
            "Sources/App has no `healthcheck` command registered in `subcommands:` (the Dockerfile's "
            "and docker-compose.yml's healthchecks run `inlet healthcheck`)",
        )
    else:
        ok(f"Sources/App: {registered[0]} is the `healthcheck` subcommand")
    # A built binary newer than Sources/App says it for itself.
    newest_source = max(os.path.getmtime(p) for p in glob.glob(os.path.join(app, "**", "*.swift"), recursive=True))
    for config in ("release", "debug"):
        binary = os.path.join(root, ".build", config, "inlet")
        if os.path.exists(binary) and os.path.getmtime(binary) >= newest_source:
            run = subprocess.run([binary, "healthcheck", "--help"], capture_output=True, text=True, timeout=30)
            if run.returncode != 0 or "--timeout" not in run.stdout:
                fail("inlet healthcheck", f".build/{config}/inlet healthcheck --help exits {run.returncode}: {(run.stderr or run.stdout).strip()[:200]}")
            else:
                ok(f".build/{config}/inlet healthcheck --help")
            break
    else:
        print("      (no .build/*/inlet newer than Sources/App: the binary was not asked)")


# ---- docker-compose.yml ---------------------------------------------------------------------


def documented_variables(root):
    """DATABASE_URL and every INLET_* variable of README's Configuration table, and the TLS ones (SPEC)."""
    readme = open(os.path.join(root, "README.md")).read()
    names = set(re.findall(r"^\|\s*`((?:INLET_[A-Z0-9_]+)|DATABASE_URL)`\s*\|", readme, re.M))
    return names | {"INLET_TLS_CERT", "INLET_TLS_KEY", "INLET_TLS_RELOAD_INTERVAL_MS"}


def duration_seconds(text):
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(text))
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0) if m and text else 10  # Docker's default


def check_compose(root, config_path):
    print("docker-compose.yml:")
    config = yaml.safe_load(open(config_path))
    services = config.get("services") or {}
    for name in ("postgres", "migrator", "inlet"):
        if name not in services:
            fail("compose services", f"no service {name!r}")
    if failures and any(f.startswith("compose services") for f in failures):
        return
    postgres, migrator, inlet = services["postgres"], services["migrator"], services["inlet"]

    # What `up` starts, `make run` starts too (PostgreSQL, migrator up, inlet serve).
    started = {n for n, s in services.items() if not s.get("profiles")}
    if started != {"postgres", "migrator", "inlet"}:
        fail("compose services", f"`up` starts {sorted(started)}; keep it to postgres, migrator and inlet, what `make run` starts (others under a profile)")

    if not str(postgres.get("image", "")).startswith("postgres:15"):
        fail("postgres", f"image {postgres.get('image')!r} is not postgres:15")

    # Healthchecks: present, exec or shell commands that exist in the image, never /dev/tcp.
    for name, service in services.items():
        test = (service.get("healthcheck") or {}).get("test")
        if test is None:
            continue
        flat = " ".join(test) if isinstance(test, list) else str(test)
        if "/dev/tcp" in flat:
            fail("healthcheck", f"{name}: {flat!r} only opens a socket (/dev/tcp), it does not check readiness")
    pg_test = (postgres.get("healthcheck") or {}).get("test")
    if not pg_test or "pg_isready" not in " ".join(pg_test if isinstance(pg_test, list) else [pg_test]):
        fail("healthcheck", f"postgres: the healthcheck must run pg_isready, it is {pg_test!r}")
    else:
        ok(f"postgres healthcheck {pg_test}")
    inlet_test = (inlet.get("healthcheck") or {}).get("test")
    if not isinstance(inlet_test, list) or inlet_test[:3] != ["CMD", "inlet", "healthcheck"]:
        fail("healthcheck", f"inlet: the healthcheck must be [\"CMD\", \"inlet\", \"healthcheck\"], it is {inlet_test!r}")
    else:
        ok(f"inlet healthcheck {inlet_test}")

    def command(service):
        c = service.get("command")
        return shlex.split(c) if isinstance(c, str) else c

    if command(migrator) != ["migrator", "up"]:
        fail("migrator", f"command is {command(migrator)!r}, not [\"migrator\", \"up\"]")
    if command(inlet) not in (None, ["inlet", "serve"]):
        fail("inlet", f"command is {command(inlet)!r}, not [\"inlet\", \"serve\"]")
    if migrator.get("restart") in ("always", "unless-stopped"):
        fail("migrator", f"restart: {migrator['restart']} runs migrator up again after it exits 0; it runs once")

    def condition(service, on):
        d = service.get("depends_on") or {}
        return d.get(on, {}).get("condition") if isinstance(d, dict) else None

    if condition(migrator, "postgres") != "service_healthy":
        fail("depends_on", "migrator must wait for postgres: condition: service_healthy")
    if condition(inlet, "migrator") != "service_completed_successfully":
        fail("depends_on", "inlet must wait for migrator: condition: service_completed_successfully")
    if condition(inlet, "postgres") != "service_healthy":
        fail("depends_on", "inlet must wait for postgres: condition: service_healthy")
    if not any(f.startswith("depends_on") for f in failures):
        ok("postgres healthy -> migrator up completed -> inlet")

    # migrator and inlet run the image of this repository's Dockerfile.
    for name in ("migrator", "inlet"):
        build = services[name].get("build") or {}
        context = build.get("context") if isinstance(build, dict) else build
        if not context or os.path.realpath(context) != os.path.realpath(root) or build.get("dockerfile", "Dockerfile") != "Dockerfile":
            fail("image", f"{name} is not built from this repository's Dockerfile (build: {build!r})")
    if migrator.get("image") != inlet.get("image"):
        fail("image", f"migrator ({migrator.get('image')}) and inlet ({inlet.get('image')}) must run the same image")

    env = inlet.get("environment") or {}
    port = str(env.get("INLET_PORT", "8080"))
    targets = []
    for p in inlet.get("ports") or []:
        target = p.get("target") if isinstance(p, dict) else str(p).split("/")[0].split(":")[-1]
        targets.append(str(target))
    if port not in targets:
        fail("ports", f"inlet listens on {port} (INLET_PORT) but publishes {targets}")
    shutdown_ms = int(env.get("INLET_SHUTDOWN_TIMEOUT_MS", 20000))
    if duration_seconds(inlet.get("stop_grace_period", "")) * 1000 <= shutdown_ms:
        fail("stop_grace_period", f"inlet's stop_grace_period must exceed INLET_SHUTDOWN_TIMEOUT_MS ({shutdown_ms} ms), or SIGKILL cuts the drain")

    # Every configuration variable is at least named (with its default) in the file.
    raw = open(os.path.join(root, "docker-compose.yml")).read()
    missing = sorted(v for v in documented_variables(root) if not re.search(rf"\b{v}\b", raw))
    if missing:
        fail("environment", f"docker-compose.yml does not mention {', '.join(missing)} (README's Configuration table): add each, commented with its default")
    else:
        ok(f"all {len(documented_variables(root))} configuration variables are in docker-compose.yml")


def main():
    root, swift_version_output, compose_config = sys.argv[1], sys.argv[2], sys.argv[3]
    check_dockerfile(root, swift_version_output)
    check_healthcheck_command(root)
    check_compose(root, compose_config)
    if failures:
        print(flush=True)
        for f in failures:
            print(f"check-containers: FAIL: {f}", file=sys.stderr)
        sys.exit(1)
    print("check-containers: all rules hold")


if __name__ == "__main__":
    main()
