"""Content Credentials out and in (issue #6, items 1 and 2): signed copies of certified images
read back with c2pa-python and the instance root as the only trust anchor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hallmark.errors import ConfigError, ConflictError, InputError
from hallmark.services import accounts, credentials, registry
from hallmark.services.instance import Instance, c2pa_chain_files
from hallmark.settings import Settings
from hallmark.storage.models import Work
from tests.analysis.helpers_c2pa import make_ca, sign
from tests.conftest import add_user, make_instance
from tests.services.helpers_credentials import (
    IPTC,
    active,
    assertion,
    failures,
    flip_image_byte,
    image_bytes,
    read,
)

SHARES = {"human-made": None, "ai-assisted": 40.0, "ai-generated": None}
SOURCE_TYPES = {
    "human-made": "digitalCreation",
    "ai-assisted": "compositeWithTrainedAlgorithmicMedia",
    "ai-generated": "trainedAlgorithmicMedia",
}


def register(
    inst: Instance,
    data: bytes,
    *,
    declare: str = "human-made",
    consent: str = "not-allowed",
    policy_url: str | None = None,
    handle: str = "ines",
    visibility: str = "public",
) -> registry.Registration:
    with inst.db.session() as session:
        user = accounts.find_user(session, handle)
        creator_id = user.id if user else add_user(inst, handle)
    return registry.register_work(
        inst,
        creator_id=creator_id,
        data=data,
        title="Tide pools",
        declare=declare,
        ai_share=SHARES[declare],
        consent=consent,
        consent_policy_url=policy_url,
        visibility=visibility,
    )


def copy_of(inst: Instance, work_id: str) -> credentials.CredentialedCopy:
    with inst.db.session() as session:
        work = session.get(Work, work_id)
        assert work is not None
        return credentials.credentialed_copy(inst, work)


def instance_root(inst: Instance) -> str:
    return c2pa_chain_files(inst.settings).root_certificate.read_text("ascii")


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp", "image/gif"])
@pytest.mark.parametrize("declare", sorted(SHARES))
def test_every_format_and_label_reads_back_trusted_with_its_source_type(
    instance: Instance, media_type: str, declare: str
) -> None:
    data = image_bytes(media_type, seed=1)
    registration = register(instance, data, declare=declare)
    copy = copy_of(instance, registration.work_id)
    assert copy.media_type == media_type and copy.data != data
    assert copy.filename.startswith(registration.work_id + ".c2pa.")

    state, store = read(copy.data, media_type, instance_root(instance))
    assert state == "Trusted", failures(store)
    manifest = active(store)
    actions = assertion(manifest, "c2pa.actions")["actions"]
    assert actions[0]["action"] == "c2pa.created"
    assert actions[0]["digitalSourceType"] == IPTC + SOURCE_TYPES[declare]
    hallmark = assertion(manifest, credentials.HALLMARK_ASSERTION)
    assert hallmark["certificate_id"] == registration.certificate_id == copy.certificate_id
    assert hallmark["log_index"] == registration.log_index
    assert hallmark["instance_url"] == instance.settings.public_url
    assert hallmark["work_url"] == f"{instance.settings.public_url}/works/{registration.work_id}"
    assert hallmark["certified_sha256"] == registration.sha256
    assert hallmark["label"] == declare
    assert manifest["signature_info"]["issuer"] == instance.settings.origin


@pytest.mark.parametrize(
    ("consent", "use"),
    [("allowed", "allowed"), ("not-allowed", "notAllowed"), ("constrained", "constrained")],
)
def test_the_training_mining_assertion_follows_the_consent(
    instance: Instance, consent: str, use: str
) -> None:
    policy = "https://ines.example/ai-terms" if consent == "constrained" else None
    registration = register(
        instance, image_bytes("image/png", seed=100), consent=consent, policy_url=policy
    )
    copy = copy_of(instance, registration.work_id)
    state, store = read(copy.data, "image/png", instance_root(instance))
    assert state == "Trusted"
    entries = assertion(active(store), "cawg.training-mining")["entries"]
    assert set(entries) == set(credentials.TRAINING_MINING_ENTRIES)
    for entry in entries.values():
        assert entry["use"] == use
        if consent == "constrained":
            assert entry["constraint_info"] == policy
        else:
            assert "constraint_info" not in entry


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp", "image/gif"])
def test_a_changed_pixel_makes_the_manifest_invalid(instance: Instance, media_type: str) -> None:
    data = image_bytes(media_type, seed=7)
    registration = register(instance, data)
    signed = copy_of(instance, registration.work_id).data
    state, store = read(flip_image_byte(signed, data), media_type, instance_root(instance))
    assert state == "Invalid"
    assert "assertion.dataHash.mismatch" in failures(store)


def test_without_the_root_as_anchor_the_copy_is_valid_but_untrusted(instance: Instance) -> None:
    registration = register(instance, image_bytes("image/png", seed=8))
    state, store = read(copy_of(instance, registration.work_id).data, "image/png", None)
    assert state == "Valid"
    assert "signingCredential.untrusted" in failures(store)


# --- operator-configured certificate --------------------------------------------------------


def _operator_instance(tmp_path: Path) -> tuple[Instance, Any]:
    ca = make_ca()
    (tmp_path / "ca").mkdir()
    chain = tmp_path / "ca" / "chain.pem"
    key = tmp_path / "ca" / "signer.key"
    chain.write_bytes(ca.chain_pem)
    key.write_bytes(ca.key_pem)
    inst = make_instance(tmp_path / "op", c2pa_certificate_chain=chain, c2pa_private_key=key)
    return inst, ca


def test_an_operator_configured_chain_signs_instead(tmp_path: Path) -> None:
    inst, ca = _operator_instance(tmp_path)
    try:
        registration = register(inst, image_bytes("image/jpeg", seed=9))
        signed = copy_of(inst, registration.work_id).data
        state, store = read(signed, "image/jpeg", ca.root_pem)
        assert state == "Trusted"
        assert active(store)["signature_info"]["common_name"] == "Hallmark test signer"
        # The instance's own root does not anchor the operator's certificate.
        assert read(signed, "image/jpeg", instance_root(inst))[0] == "Valid"
        with pytest.raises(ConfigError, match="operator's certificate"):
            credentials.root_certificate(inst)
    finally:
        inst.close()


def test_half_an_operator_configuration_is_refused(tmp_path: Path) -> None:
    inst = make_instance(tmp_path / "half", c2pa_certificate_chain=tmp_path / "chain.pem")
    try:
        registration = register(inst, image_bytes("image/png", seed=10))
        with pytest.raises(ConfigError, match="Only one of"):
            copy_of(inst, registration.work_id)
    finally:
        inst.close()


def test_an_instance_without_a_chain_gets_one_on_first_use(instance: Instance) -> None:
    files = c2pa_chain_files(instance.settings)
    for path in (files.root_certificate, files.root_key, files.chain, files.key):
        path.unlink()
    registration = register(instance, image_bytes("image/webp", seed=11))
    signed = copy_of(instance, registration.work_id).data
    assert files.root_certificate.exists() and files.key.exists()
    assert read(signed, "image/webp", credentials.root_certificate(instance))[0] == "Trusted"


# --- errors ---------------------------------------------------------------------------------


def test_a_text_work_has_no_content_credentials(instance: Instance) -> None:
    registration = register(instance, b"A short poem about the sea.\n")
    with pytest.raises(InputError, match="images only") as caught:
        copy_of(instance, registration.work_id)
    assert caught.value.hint


def test_a_revoked_work_gets_no_content_credentials(instance: Instance) -> None:
    registration = register(instance, image_bytes("image/png", seed=12))
    registry.revoke(
        instance, certificate_id=registration.certificate_id, reason="mistake", actor=None
    )
    with pytest.raises(ConflictError, match="revoked"):
        copy_of(instance, registration.work_id)
    with instance.db.session() as session:
        work = session.get(Work, registration.work_id)
        assert work is not None and credentials.offers_credentials(work) is False


# --- the upload's own credentials ------------------------------------------------------------


def test_an_uploads_manifest_becomes_the_parent_ingredient(instance: Instance) -> None:
    upstream = make_ca()
    original = image_bytes("image/png", seed=13)
    carried = sign(upstream, "image/png", original, "digitalCapture")
    registration = register(instance, carried)
    copy = copy_of(instance, registration.work_id)
    assert copy.has_parent

    state, store = read(copy.data, "image/png", instance_root(instance))
    assert state == "Trusted", failures(store)
    manifest = active(store)
    (ingredient,) = manifest["ingredients"]
    assert ingredient["relationship"] == "parentOf"
    parent = store["manifests"][ingredient["active_manifest"]]
    assert parent["signature_info"]["common_name"] == "Hallmark test signer"
    parent_action = assertion(parent, "c2pa.actions")["actions"][0]
    assert parent_action["digitalSourceType"] == IPTC + "digitalCapture"
    # C2PA 2.x: a manifest with a parent opens it rather than creating something new.
    first = assertion(manifest, "c2pa.actions")["actions"][0]
    assert first["action"] == "c2pa.opened"
    assert first["digitalSourceType"] == IPTC + "digitalCreation"
    assert first["parameters"]["ingredients"]


def test_the_uploads_claims_are_summarised_for_the_work_page(instance: Instance) -> None:
    upstream = make_ca()
    carried = sign(upstream, "image/jpeg", image_bytes("image/jpeg", seed=14), "digitalCapture")
    registration = register(instance, carried)
    with instance.db.session() as session:
        work = session.get(Work, registration.work_id)
        assert work is not None
        summary = credentials.upload_credentials(instance, work)
    assert summary is not None and summary["readable"]
    assert summary["state"] == "Valid"  # the test CA is on no trust list of this instance
    assert summary["claim_generator"].startswith("Hallmark tests")
    assert summary["issuer"] == "Hallmark tests"
    assert summary["actions"] == [
        {
            "action": "c2pa.created",
            "source_type": "digitalCapture",
            "source_type_name": "captured by a camera or scanner",
            "software_agent": None,
        }
    ]


def test_a_trusted_upload_reads_as_trusted(tmp_path: Path) -> None:
    upstream = make_ca()
    (tmp_path / "anchors.pem").write_bytes(upstream.root_pem)
    inst = make_instance(tmp_path / "home", c2pa_trust_anchors=tmp_path / "anchors.pem")
    try:
        carried = sign(upstream, "image/png", image_bytes("image/png", seed=15), "digitalCapture")
        registration = register(inst, carried)
        with inst.db.session() as session:
            work = session.get(Work, registration.work_id)
            assert work is not None
            summary = credentials.upload_credentials(inst, work)
        assert summary is not None and summary["state"] == "Trusted" and summary["trusted"]
    finally:
        inst.close()


def test_an_upload_without_credentials_shows_none(instance: Instance) -> None:
    registration = register(instance, image_bytes("image/png", seed=16))
    with instance.db.session() as session:
        work = session.get(Work, registration.work_id)
        assert work is not None
        assert credentials.upload_credentials(instance, work) is None
        assert credentials.offers_credentials(work) is True


# --- pieces ---------------------------------------------------------------------------------


def test_consent_of_reads_the_works_consent(instance: Instance) -> None:
    registration = register(instance, image_bytes("image/png", seed=17), consent="allowed")
    with instance.db.session() as session:
        work = session.get(Work, registration.work_id)
        assert work is not None
        assert credentials.consent_of(work) == ("allowed", None)


def test_the_manifest_definition_is_built_without_io() -> None:
    certificate = {
        "id": "c_1",
        "issuer": "hallmark.test/log",
        "label": "ai-generated",
        "level": "declared",
        "digital_source_type": IPTC + "trainedAlgorithmicMedia",
        "log": {"index": 4},
        "work": {"id": "w_1", "title": "Dunes", "media_type": "image/png", "sha256": "ab" * 32},
    }
    definition = credentials.manifest_definition(
        certificate,
        instance_url="https://hallmark.test",
        consent="constrained",
        policy_url="https://creator.test/ai-terms",
    )
    without_policy = credentials.manifest_definition(
        certificate, instance_url="https://hallmark.test", consent="constrained", policy_url=None
    )
    # With no policy URL, constrained uses point at the work page.
    fallback = without_policy["assertions"][2]["data"]["entries"]["cawg.ai_training"]
    assert fallback["constraint_info"] == "https://hallmark.test/works/w_1"
    labels = [a["label"] for a in definition["assertions"]]
    assert labels == ["c2pa.actions", "org.hallmark.certificate", "cawg.training-mining"]
    entries = definition["assertions"][2]["data"]["entries"]
    assert entries["cawg.data_mining"] == {
        "use": "constrained",
        "constraint_info": "https://creator.test/ai-terms",
    }
    assert definition["assertions"][1]["data"]["bundle_url"] == (
        "https://hallmark.test/api/v1/works/w_1/bundle"
    )


def test_settings_default_to_the_instance_chain(instance: Instance) -> None:
    settings: Settings = instance.settings
    assert settings.c2pa_certificate_chain is None and settings.c2pa_private_key is None
    credentials_ = credentials.signing_credentials(instance)
    assert credentials_.chain_pem == c2pa_chain_files(settings).chain.read_bytes()


def test_a_credentialed_copy_on_every_database(any_instance: Instance) -> None:
    registration = register(any_instance, image_bytes("image/png", seed=18), consent="allowed")
    copy = copy_of(any_instance, registration.work_id)
    state, store = read(copy.data, "image/png", instance_root(any_instance))
    assert state == "Trusted"
    hallmark = assertion(active(store), credentials.HALLMARK_ASSERTION)
    assert hallmark["certificate_id"] == registration.certificate_id
