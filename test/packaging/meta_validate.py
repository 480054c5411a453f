#!/usr/bin/python3
"""Checks META.json against the PGXN Meta Spec 1.0.0 and against the tree.

    test/packaging/meta_validate.py [META.json]   validate; exit 1 with the errors
    test/packaging/meta_validate.py --self-test   show that broken documents are refused

The spec part (validate_spec) follows the specification's fields one by one:
the seven required keys, their types, Terms, SemVer versions, version ranges,
the license shortcuts, prereq phases and relationships, tags, resources,
no_index, release_status; keys outside the spec must start with x_ or X_.
The project part (validate_tree) checks what a package must agree with: the
version equals annoy.control's default_version, the extension `annoy` is
provided at that version by the file that installs it, and every file named
exists.  Standard library only, so it runs before anything is installed.
"""
import json
import os
import re
import sys

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")
RANGE_OP = re.compile(r"^(==|!=|<=|>=|<|>)?\s*(.*)$")
LICENSES = {
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
    "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
    "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
    "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown",
}
REQUIRED = ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec")
OPTIONAL = ("description", "generated_by", "tags", "no_index", "prereqs", "release_status", "resources")
PHASES = ("configure", "build", "test", "runtime", "develop")
RELATIONS = ("requires", "recommends", "suggests", "conflicts")
SPEC_URLS = ("https://pgxn.org/meta/spec.txt", "http://pgxn.org/meta/spec.txt")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def is_custom(key):
    return len(key) > 2 and key[:2] in ("x_", "X_")


def nonempty_string(v):
    return isinstance(v, str) and len(v) > 0


def is_term(v):
    # At least two characters, none of them a slash, backslash, space or control.
    return isinstance(v, str) and len(v) >= 2 and not any(
        c in "/\\" or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in v)


def is_tag(v):
    return isinstance(v, str) and 2 <= len(v) <= 255 and not any(
        c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in v)


def is_version(v):
    return isinstance(v, str) and SEMVER.match(v) is not None


def is_version_range(v):
    if v == 0 or v == "0":
        return True
    if not isinstance(v, str) or not v:
        return False
    for i, part in enumerate(v.split(",")):
        part = part.strip() if i else part
        op, version = RANGE_OP.match(part).groups()
        if not is_version(version.strip()) and not (i == 0 and op is None and version == "0"):
            return False
    return True


def is_path(v):
    return nonempty_string(v) and not v.startswith("/") and "\\" not in v


class Errors(list):
    def need(self, ok, where, what):
        if not ok:
            self.append(f"{where}: {what}")
        return ok

    def keys(self, obj, where, allowed, required=()):
        """obj must be an object with the required keys and no others but x_ keys."""
        if not self.need(isinstance(obj, dict), where, "must be an object"):
            return False
        for k in required:
            self.need(k in obj, where, f"missing mandatory field '{k}'")
        for k in obj:
            self.need(k in allowed or k in required or is_custom(k), where, f"unknown field '{k}'")
        return True


def validate_license(e, lic):
    if isinstance(lic, str):
        e.need(lic in LICENSES, "license", f"'{lic}' is not a license shortcut of the spec")
    elif isinstance(lic, list):
        e.need(len(lic) > 0, "license", "an empty list")
        for x in lic:
            e.need(isinstance(x, str) and x in LICENSES, "license", f"{x!r} is not a license shortcut")
    elif isinstance(lic, dict):
        e.need(len(lic) > 0, "license", "an empty object")
        for name, url in lic.items():
            e.need(isinstance(url, str) and URI.match(url), f"license.{name}", "must be a URI")
    else:
        e.append("license: must be a string, a list of strings or an object")


def validate_prereqs(e, prereqs):
    if not e.keys(prereqs, "prereqs", PHASES):
        return
    e.need(len(prereqs) > 0, "prereqs", "an empty object")
    for phase, relations in prereqs.items():
        if is_custom(phase) or not e.keys(relations, f"prereqs.{phase}", RELATIONS):
            continue
        for rel, deps in relations.items():
            where = f"prereqs.{phase}.{rel}"
            if is_custom(rel) or not e.need(isinstance(deps, dict), where, "must be an object"):
                continue
            for name, rng in deps.items():
                e.need(is_term(name), where, f"{name!r} is not a valid extension name")
                e.need(is_version_range(rng), f"{where}.{name}", f"{rng!r} is not a version range")


def validate_resources(e, res):
    if not e.keys(res, "resources", ("homepage", "bugtracker", "repository")):
        return
    e.need(len(res) > 0, "resources", "an empty object")
    if "homepage" in res:
        e.need(isinstance(res["homepage"], str) and URI.match(res["homepage"]), "resources.homepage", "must be a URI")
    if "bugtracker" in res and e.keys(res["bugtracker"], "resources.bugtracker", ("web", "mailto")):
        bt = res["bugtracker"]
        if "web" in bt:
            e.need(isinstance(bt["web"], str) and URI.match(bt["web"]), "resources.bugtracker.web", "must be a URI")
        if "mailto" in bt:
            e.need(isinstance(bt["mailto"], str) and EMAIL.match(bt["mailto"]),
                   "resources.bugtracker.mailto", "must be an email address")
    if "repository" in res and e.keys(res["repository"], "resources.repository", ("url", "web", "type")):
        repo = res["repository"]
        for k in ("url", "web"):
            if k in repo:
                e.need(isinstance(repo[k], str) and URI.match(repo[k]), f"resources.repository.{k}", "must be a URI")
        if "type" in repo:
            e.need(isinstance(repo["type"], str) and repo["type"] == repo["type"].lower() and repo["type"],
                   "resources.repository.type", "must be a lowercase VCS name")
        e.need("web" in repo or ("url" in repo and "type" in repo), "resources.repository",
               "needs 'web', or 'url' with 'type'")


def validate_spec(meta):
    """Errors of `meta` (a decoded META.json) against PGXN Meta Spec 1.0.0."""
    e = Errors()
    if not e.keys(meta, "META.json", OPTIONAL, REQUIRED):
        return e
    ms = meta.get("meta-spec")
    if e.keys(ms, "meta-spec", ("url",), ("version",)):
        e.need(isinstance(ms.get("version"), str) and re.match(r"^1\.0\.\d+$", ms.get("version", "")),
               "meta-spec.version", "must be 1.0.x")
        if "url" in ms:
            e.need(ms["url"] in SPEC_URLS, "meta-spec.url", "must be the spec's URL")
    if "name" in meta:
        e.need(is_term(meta["name"]), "name", "must be a Term (2+ characters, no slash, backslash, space)")
    if "version" in meta:
        e.need(is_version(meta["version"]), "version", f"{meta['version']!r} is not a semantic version")
    for k in ("abstract", "description", "generated_by"):
        if k in meta:
            e.need(nonempty_string(meta[k]), k, "must be a non-empty string")
    if "maintainer" in meta:
        m = meta["maintainer"]
        e.need(nonempty_string(m) or (isinstance(m, list) and m and all(nonempty_string(x) for x in m)),
               "maintainer", "must be a string or a non-empty list of strings")
    if "license" in meta:
        validate_license(e, meta["license"])
    if "provides" in meta and e.need(isinstance(meta["provides"], dict) and meta["provides"], "provides",
                                     "must be a non-empty object"):
        for ext, p in meta["provides"].items():
            where = f"provides.{ext}"
            e.need(is_term(ext), where, "the extension name must be a Term")
            if e.keys(p, where, ("abstract", "docfile"), ("file", "version")):
                e.need("file" not in p or is_path(p["file"]), f"{where}.file", "must be a relative unix path")
                e.need("docfile" not in p or is_path(p["docfile"]), f"{where}.docfile", "must be a relative unix path")
                e.need("version" not in p or is_version(p["version"]), f"{where}.version", "not a semantic version")
                e.need("abstract" not in p or nonempty_string(p["abstract"]), f"{where}.abstract", "empty")
    if "tags" in meta:
        t = meta["tags"]
        e.need(isinstance(t, list) and t and all(is_tag(x) for x in t), "tags",
               "must be a non-empty list of tags (2-255 characters, no slash, backslash or control)")
    if "release_status" in meta:
        e.need(meta["release_status"] in ("stable", "testing", "unstable"), "release_status",
               "must be stable, testing or unstable")
    if "prereqs" in meta:
        validate_prereqs(e, meta["prereqs"])
    if "resources" in meta:
        validate_resources(e, meta["resources"])
    if "no_index" in meta and e.keys(meta["no_index"], "no_index", ("file", "directory")):
        for k, v in meta["no_index"].items():
            if not is_custom(k):
                e.need(isinstance(v, list) and v and all(is_path(x) for x in v), f"no_index.{k}",
                       "must be a non-empty list of relative paths")
    return e


def control_default_version(path):
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*default_version\s*=\s*'([^']*)'", line)
            if m:
                return m.group(1)
    return None


def validate_tree(meta, root):
    """Errors of META.json against the files of the tree at `root`."""
    e = Errors()
    control = os.path.join(root, "annoy.control")
    version = control_default_version(control)
    e.need(version is not None, "annoy.control", "has no default_version")
    e.need(meta.get("version") == version, "version",
           f"{meta.get('version')!r} differs from annoy.control's default_version {version!r}")
    provided = meta.get("provides", {}).get("annoy")
    if e.need(isinstance(provided, dict), "provides", "does not provide the extension 'annoy'"):
        e.need(provided.get("version") == version, "provides.annoy.version",
               f"{provided.get('version')!r} differs from annoy.control's default_version {version!r}")
        e.need(provided.get("file") == f"sql/annoy--{version}.sql", "provides.annoy.file",
               f"must be the install script of version {version}, sql/annoy--{version}.sql")
    for ext, p in meta.get("provides", {}).items():
        for k in ("file", "docfile"):
            if isinstance(p, dict) and k in p:
                e.need(os.path.isfile(os.path.join(root, p[k])), f"provides.{ext}.{k}", f"{p[k]} does not exist")
    return e


def self_test(meta):
    """Each broken variant of a valid document must be refused: a validator
    that passes everything would pass here too, so show that it does not."""
    import copy

    def variant(change):
        m = copy.deepcopy(meta)
        change(m)
        return m

    cases = {
        "no license": lambda m: m.pop("license"),
        "no provides": lambda m: m.pop("provides"),
        "no meta-spec": lambda m: m.pop("meta-spec"),
        "meta-spec 2.0.0": lambda m: m["meta-spec"].update(version="2.0.0"),
        "name with a space": lambda m: m.update(name="an noy"),
        "version 0.2": lambda m: m.update(version="0.2"),
        "version as a number": lambda m: m.update(version=0.2),
        "license gpl": lambda m: m.update(license="gpl"),
        "license empty list": lambda m: m.update(license=[]),
        "maintainer empty": lambda m: m.update(maintainer=[]),
        "provides without file": lambda m: m["provides"]["annoy"].pop("file"),
        "provides version not semver": lambda m: m["provides"]["annoy"].update(version="1"),
        "provides unknown key": lambda m: m["provides"]["annoy"].update(path="x"),
        "prereqs unknown phase": lambda m: m.update(prereqs={"install": {"requires": {"PostgreSQL": 0}}}),
        "prereqs bad range": lambda m: m.update(prereqs={"runtime": {"requires": {"PostgreSQL": "~15"}}}),
        "tags not a list": lambda m: m.update(tags="ann"),
        "tag with slash": lambda m: m.update(tags=["a/b"]),
        "release_status beta": lambda m: m.update(release_status="beta"),
        "resources repository url without type": lambda m: m.update(
            resources={"repository": {"url": "https://example.org/annoy.git"}}),
        "unknown top-level key": lambda m: m.update(homepage="https://example.org"),
    }
    failed = 0
    e = validate_spec(meta)
    if e:
        print("self-test: the valid document is refused:", *e, sep="\n  ")
        failed += 1
    for what, change in cases.items():
        errors = validate_spec(variant(change))
        if errors:
            print(f"refused as expected: {what}: {errors[0]}")
        else:
            print(f"NOT REFUSED: {what}")
            failed += 1
    # Accepted forms the spec allows (must pass).
    for what, change in {
        "custom x_ key": lambda m: m.update(x_note="fine"),
        "license list": lambda m: m.update(license=["postgresql", "apache_2_0"]),
        "license object": lambda m: m.update(license={"PostgreSQL": "https://www.postgresql.org/about/licence"}),
        "range with operators": lambda m: m.update(prereqs={"runtime": {"requires": {"PostgreSQL": ">= 15.0.0, != 15.1.0"}}}),
        "resources web": lambda m: m.update(resources={"repository": {"web": "https://example.org/annoy"}}),
    }.items():
        errors = validate_spec(variant(change))
        if errors:
            print(f"WRONGLY REFUSED: {what}: {errors}")
            failed += 1
        else:
            print(f"accepted as expected: {what}")
    print(f"{len(cases) + 5 - failed} passed, {failed} failed")
    return failed == 0


def main(argv):
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    args = [a for a in argv if not a.startswith("--")]
    path = args[0] if args else os.path.join(root, "META.json")
    with open(path) as f:
        try:
            meta = json.load(f)
        except json.JSONDecodeError as err:
            print(f"{path} is not valid JSON: {err}")
            return 1
    if "--self-test" in argv:
        return 0 if self_test(meta) else 1
    errors = validate_spec(meta) + validate_tree(meta, os.path.dirname(os.path.abspath(path)))
    if errors:
        print(f"{path} is invalid:", *errors, sep="\n  ")
        return 1
    print(f"{path} is valid (PGXN Meta Spec {meta['meta-spec']['version']}, "
          f"{meta['name']} {meta['version']} = annoy.control's default_version)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
