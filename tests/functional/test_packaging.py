"""The wheel carries the contract (xsd/, wsdl/) and the migrations: an installed hub works
outside the checkout."""

from __future__ import annotations

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
assert service_wsdl(ORDERS) == (c.contract_dir("wsdl") / "ccpor-orders.wsdl").read_bytes()
assert service_wsdl(ADMIN) == (c.contract_dir("wsdl") / "ccpor-admin.wsdl").read_bytes()
m.upgrade("sqlite:///" + TARGET + "/check.db")
print("ok", where)
"""


@pytest.mark.functional
def test_installed_wheel_works_outside_the_checkout(tmp_path: Path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
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
        "hub/migrations/versions/0001_initial_schema.py",
    } <= set(names)
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
