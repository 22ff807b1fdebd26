"""The wheel carries every module, the contract (xsd/, wsdl/) and the migrations: an installed hub
works outside the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import hub.contract as c, hub.db.migrate as m
from hub.api.app import ADMIN, ORDERS
from hub.soap.wsdl import service_wsdl
where = c.contract_dir("xsd")
assert str(where).startswith(TARGET), where
c.service_schema(); c.profile_schema()
assert all(c.dsp917_schema(m) is not None for m in c.Dsp917)
assert c.dsp917_binding("DSP917CAJUDReq").operations == ("Notify",)
assert service_wsdl(ORDERS) == (c.contract_dir("wsdl") / "ccpor-orders.wsdl").read_bytes()
assert service_wsdl(ADMIN) == (c.contract_dir("wsdl") / "ccpor-admin.wsdl").read_bytes()
m.upgrade("sqlite:///" + TARGET + "/check.db")
from hub.cli import parser
parser()  # ccpor-hub's argparse tree: every command group's module
print("ok", where)
"""


@pytest.mark.functional
def test_installed_wheel_works_outside_the_checkout(tmp_path: Path):
    # Built from a copy: setuptools reuses the checkout's build/lib, whose stale files would ship too.
    source = tmp_path / "source"
    junk = (".git", ".venv", "build", "var", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*junk))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("ccpor_hub-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {
        "hub/_xsd/ccpor-order.xsd",
        "hub/_xsd/ccpor-orders-service.xsd",
        "hub/_xsd/ccpor-order-profiles.xsd",
        "hub/_wsdl/ccpor-orders.wsdl",
        "hub/_xsd/dsp917/SHA256SUMS",
        "hub/_xsd/dsp917/SchemaDefinitions/Common/ISBCommonServiceHeader.xsd",
        "hub/_xsd/dsp917/SchemaDefinitions/CAJUD/DSP917/V_2_0_0/Request/niem/domains/jxdm/4.0/jxdm.xsd",
        "hub/_xsd/dsp917/SOAP/CAJUD/DSP917/V_2_0_0/ConcreteWSDLs/DSP917CAJUDReq_Concrete.wsdl",
        "hub/_xsd/dsp917/mapping/request-mapping.csv",
        "hub/migrations/versions/0001_initial_schema.py",
    } <= set(names)
    # pyproject lists the packages one by one: a new one left out of the list would be missing here.
    sources = {
        p.relative_to(ROOT).as_posix() for top in ("hub", "gateway", "mocks") for p in (ROOT / top).rglob("*.py")
    }
    assert not sources - set(names), sorted(sources - set(names))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # -S: no site processing, so the editable install of the checkout cannot shadow the wheel.
    env = {"PYTHONPATH": f"{target}:{sysconfig.get_paths()['purelib']}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-S", "-c", f"TARGET = {str(target)!r}\n{CHECK}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
