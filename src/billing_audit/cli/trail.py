"""`billing-audit verify`, `prove` and `trail`: checking the tamper-evident trail, online or offline.

`verify` with no files checks the stored trail against every digest (AWS); with `--events`,
`--digest` and `--public-key` it checks an export on this machine alone, and with `--proof` instead
of `--events` an inclusion proof printed by `prove`.  Exit 0 when everything holds (expired events
included), 3 when anything does not, with each difference named by position and event id.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from billing_audit.cli.exits import ExitCode
from billing_audit.cli.tables import table
from billing_audit.domain.signatures import signature_problem
from billing_audit.domain.trail import (
    EXPORT_HEADER_KEY,
    ConsistencyProof,
    Digest,
    Finding,
    InclusionProof,
    Verdict,
    check_export,
    is_header,
)
from billing_audit.errors import BadInput
from billing_audit.pipeline.trail import TrailDeps, prove, prove_consistency, seal, verify_stored
from billing_audit.settings import TrailSettings, load


def trail_deps() -> TrailDeps:
    from billing_audit.wiring import trail_dependencies

    return trail_dependencies(load(TrailSettings))


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{what} {path}: {exc.strerror}") from None


def read_digest(path: Path, option: str = "--digest") -> Digest:
    try:
        return Digest.model_validate_json(_read(path, option))
    except ValidationError as exc:
        raise BadInput(f"{option} {path}: not a trail digest ({exc.errors()[0]['msg']})") from None


def export_header(path: Path) -> dict[str, Any]:
    """The export's header (its first line, when it is one), or {} for a file of bare leaves."""
    with path.open("rb") as stream:
        first = stream.readline()
    if not is_header(first):
        return {}
    header: dict[str, Any] = json.loads(first)[EXPORT_HEADER_KEY]
    return header


def lines_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        for line in stream:
            line = line.rstrip(b"\r\n")
            if line:
                yield line


def findings_table(findings: list[Finding]) -> str:
    rows = [(f.kind, "-" if f.position is None else f.position, f.event_id, f.detail) for f in findings]
    return table(["finding", "position", "event id", "detail"], rows)


def report(verdict: Verdict, as_json: bool, extra: dict[str, Any], signature: str | None) -> int:
    ok = verdict.ok and signature is None
    if as_json:
        print(json.dumps({**verdict.summary(), **extra, "ok": ok, "signature_problem": signature}, indent=2))
    else:
        if signature:
            print(f"DIGEST SIGNATURE: {signature}")
        head = "VERIFIED" if ok else "FAILED"
        unvouched = ""
        if verdict.unvouched:
            unvouched = f"{verdict.unvouched:,} not vouched for (they link only to a line that fails), "
        print(
            f"{head}: {verdict.verified:,} events verified, {unvouched}{verdict.expired:,} expired (hash kept), "
            f"against a digest of {verdict.tree_size:,} leaves (root {verdict.root_hash[:16]}…)"
        )
        for key, value in extra.items():
            print(f"  {key}: {value}")
        shown = [f for f in verdict.findings if f.kind != "expired"]
        if shown:
            print(findings_table(shown[:200]))
            if len(shown) > 200:
                print(f"... and {len(shown) - 200:,} more (--json lists all)")
    return ExitCode.OK if ok else ExitCode.CHECK_FAILED


def _pseudonym_key(args: argparse.Namespace) -> bytes | None:
    if args.pseudonym_key_file is not None:
        return _read(args.pseudonym_key_file, "--pseudonym-key-file").strip()
    return None


def _verify(args: argparse.Namespace) -> int:
    checked = (args.events, args.proof, args.consistency)
    offline = any(x is not None for x in (*checked, args.digest, args.public_key))
    if not offline:
        return _verify_stored(args)
    if args.digest is None or args.public_key is None or sum(x is not None for x in checked) != 1:
        raise BadInput("offline: give --digest and --public-key, and one of --events, --proof or --consistency")
    digest = read_digest(args.digest)
    key = _read(args.public_key, "--public-key")
    signature = signature_problem(digest, key)
    if args.consistency is not None:
        return _verify_consistency(args, digest, signature, key)
    if args.proof is not None:
        return _verify_proof(args, digest, signature)
    header = export_header(args.events)
    if header.get("partial"):
        raise BadInput(
            f"--events {args.events}: a filtered export holds only some of the trail; "
            "check its events one by one with `billing-audit prove --event-id ID`"
        )
    seal_key = None
    if header.get("pseudonymized"):
        seal_key = _pseudonym_key(args)
        if seal_key is None:
            raise BadInput(
                f"--events {args.events} is pseudonymized: it verifies only with the pseudonymization key "
                "(--pseudonym-key-file)"
            )
    verdict = check_export(
        lambda: lines_of(args.events),
        tree_size=digest.tree_size,
        root=digest.root,
        last_leaf=digest.last_leaf,
        last_event_id=digest.last_event_id,
        seal_key=seal_key,
    )
    extra = {"digest_time": digest.digest_time, "events_file": str(args.events)}
    return report(verdict, args.json, extra, signature)


def _verify_proof(args: argparse.Namespace, digest: Digest, signature: str | None) -> int:
    try:
        proof = InclusionProof.model_validate_json(_read(args.proof, "--proof"))
    except ValidationError as exc:
        raise BadInput(f"--proof {args.proof}: not an inclusion proof ({exc.errors()[0]['msg']})") from None
    problems = proof.verify(digest)
    if signature:
        problems.insert(0, f"digest signature: {signature}")
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not problems,
                    "event_id": proof.event_id,
                    "position": proof.leaf_index,
                    "tree_size": digest.tree_size,
                    "problems": problems,
                },
                indent=2,
            )
        )
    elif problems:
        print(f"FAILED: the proof of {proof.event_id} at position {proof.leaf_index} does not hold:")
        for problem in problems:
            print(f"  {problem}")
    else:
        print(
            f"VERIFIED: event {proof.event_id} is leaf {proof.leaf_index} of the {digest.tree_size:,}-leaf tree "
            f"sealed {digest.digest_time} ({len(proof.audit_path)} hashes)"
        )
    return ExitCode.CHECK_FAILED if problems else ExitCode.OK


def _verify_stored(args: argparse.Namespace) -> int:
    deps = trail_deps()
    digests = list(deps.digests.all())
    if not digests:
        raise BadInput("no digest has been written yet: nothing to verify against (billing-audit trail seal)")
    key = deps.signer.public_key_pem().encode()
    outcome = verify_stored(deps.trail, digests, key, deps.clock())
    extra = {"digests": outcome.digests, "unsealed_entries": outcome.unsealed, "latest_digest": digests[-1].digest_time}
    return report(outcome.verdict, args.json, extra, None)


def _prove(args: argparse.Namespace) -> int:
    if (args.event_id is None) == (args.since_digest is None):
        raise BadInput("give one of --event-id (an inclusion proof) or --since-digest (a consistency proof)")
    deps = trail_deps()
    digest = deps.digests.latest()
    if digest is None:
        raise BadInput("no digest has been written yet (billing-audit trail seal)")
    if args.since_digest is not None:
        return _prove_consistency(args, deps, read_digest(args.since_digest, "--since-digest"), digest)
    proof = prove(deps.trail, digest, args.event_id)
    if proof is None:
        raise BadInput(
            f"--event-id {args.event_id}: not in the trail sealed by the latest digest, or its record is gone"
        )
    text = proof.model_dump_json(indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.json or args.out is None:
        print(text)
    if not args.json:
        print(
            f"event {proof.event_id}: leaf {proof.leaf_index} of {proof.tree_size:,}, "
            f"{len(proof.audit_path)} hashes to root {proof.root_hash[:16]}… (digest {digest.digest_time}); "
            "check with: billing-audit verify --proof FILE --digest FILE --public-key FILE",
            file=sys.stderr,
        )
    return ExitCode.OK


def _prove_consistency(args: argparse.Namespace, deps: TrailDeps, old: Digest, new: Digest) -> int:
    consistency = prove_consistency(deps.trail, old, new)
    if consistency is None:
        raise BadInput(f"--since-digest: a digest of {old.tree_size} leaves cannot be extended to {new.tree_size}")
    text = consistency.model_dump_json(indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.json or args.out is None:
        print(text)
    if not args.json:
        print(
            f"the {new.tree_size:,}-leaf tree of {new.digest_time} extends the {old.tree_size:,}-leaf tree of "
            f"{old.digest_time} ({len(consistency.path)} hashes); check with: billing-audit verify "
            "--consistency FILE --since-digest OLD --digest NEW --public-key FILE",
            file=sys.stderr,
        )
    return ExitCode.OK


def _verify_consistency(args: argparse.Namespace, new: Digest, signature: str | None, key: bytes) -> int:
    if args.since_digest is None:
        raise BadInput("--consistency needs --since-digest (the earlier digest) and --digest (the later)")
    old = read_digest(args.since_digest, "--since-digest")
    try:
        proof = ConsistencyProof.model_validate_json(_read(args.consistency, "--consistency"))
    except ValidationError as exc:
        raise BadInput(
            f"--consistency {args.consistency}: not a consistency proof ({exc.errors()[0]['msg']})"
        ) from None
    problems = proof.verify(old, new)
    old_signature = signature_problem(old, key)
    if old_signature:
        problems.insert(0, f"earlier digest signature: {old_signature}")
    if signature:
        problems.insert(0, f"later digest signature: {signature}")
    if args.json:
        print(
            json.dumps({"ok": not problems, "old_size": old.tree_size, "new_size": new.tree_size, "problems": problems})
        )
    elif problems:
        print(f"FAILED: the {new.tree_size:,}-leaf tree is not shown to extend the {old.tree_size:,}-leaf tree:")
        for problem in problems:
            print(f"  {problem}")
    else:
        print(
            f"VERIFIED: the {new.tree_size:,}-leaf tree of {new.digest_time} extends the "
            f"{old.tree_size:,}-leaf tree of {old.digest_time}"
        )
    return ExitCode.CHECK_FAILED if problems else ExitCode.OK


def _public_key(args: argparse.Namespace) -> int:
    pem = trail_deps().signer.public_key_pem()
    if args.out is not None:
        args.out.write_text(pem, encoding="utf-8")
    if args.json:
        print(json.dumps({"public_key_pem": pem}))
    elif args.out is None:
        print(pem, end="")
    return ExitCode.OK


def _digest(args: argparse.Namespace) -> int:
    digest = trail_deps().digests.latest()
    if digest is None:
        raise BadInput("no digest has been written yet (billing-audit trail seal)")
    if args.out is not None:
        args.out.write_bytes(digest.to_json() + b"\n")
    if args.json or args.out is None:
        print(json.dumps(digest.model_dump(), indent=2))
    return ExitCode.OK


def _seal(args: argparse.Namespace) -> int:
    deps = trail_deps()
    digest = seal(deps.trail, deps.digests, deps.signer, deps.clock())
    if args.json:
        print(json.dumps(digest.model_dump(), indent=2))
    else:
        print(f"sealed {digest.tree_size:,} leaves, root {digest.root_hash} at {digest.digest_time}")
    return ExitCode.OK


def register_verify(commands: Any) -> None:
    verify = commands.add_parser("verify", help="check the trail: stored (AWS) or an export offline")
    verify.add_argument("--events", type=Path, help="an export (jsonl) or a demo's events.jsonl: checked offline")
    verify.add_argument("--proof", type=Path, help="an inclusion proof from `billing-audit prove`: checked offline")
    verify.add_argument(
        "--consistency", type=Path, help="a consistency proof from `billing-audit prove --since-digest`"
    )
    verify.add_argument("--since-digest", type=Path, help="with --consistency: the earlier digest")
    verify.add_argument("--digest", type=Path, help="the digest to check against (JSON)")
    verify.add_argument("--public-key", type=Path, help="the trail's public key (PEM)")
    verify.add_argument("--pseudonym-key-file", type=Path, help="the pseudonymization key, for a pseudonymized export")
    verify.add_argument("--json", action="store_true", help="the result as JSON")
    verify.set_defaults(func=_verify)


def register_prove(commands: Any) -> None:
    proof = commands.add_parser(
        "prove", help="an inclusion proof of one event, or a consistency proof since a digest, in the latest digest"
    )
    proof.add_argument("--event-id", help="the event to prove included")
    proof.add_argument("--since-digest", type=Path, help="an earlier digest (JSON) the latest must extend")
    proof.add_argument("--out", type=Path, help="also write the proof to this file")
    proof.add_argument("--json", action="store_true", help="only the proof, as JSON")
    proof.set_defaults(func=_prove)


def register_trail(commands: Any) -> None:
    group = commands.add_parser("trail", help="the trail's digests and public key").add_subparsers(
        dest="trail_command", required=True
    )
    key = group.add_parser("public-key", help="the public key that checks digests (PEM)")
    key.add_argument("--out", type=Path)
    key.add_argument("--json", action="store_true")
    key.set_defaults(func=_public_key)
    digest = group.add_parser("digest", help="the latest digest (JSON)")
    digest.add_argument("--out", type=Path)
    digest.add_argument("--json", action="store_true")
    digest.set_defaults(func=_digest)
    sealing = group.add_parser("seal", help="sign a digest of the log now (the schedule does this hourly)")
    sealing.add_argument("--json", action="store_true")
    sealing.set_defaults(func=_seal)
