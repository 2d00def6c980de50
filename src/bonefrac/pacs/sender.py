"""C-STORE of results to a DICOM destination (pynetdicom as SCU)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.dataset import Dataset

from bonefrac.errors import ConfigError, PacsError

ADDRESS_PATTERN = re.compile(r"^(?P<ae>[^@\s\\]{1,16})@(?P<host>[^:\s]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class Destination:
    """A DICOM application entity: AE title, host and port."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Destination:
        """`AE@host:port`, e.g. `ORTHANC@pacs.example.org:4242`."""
        match = ADDRESS_PATTERN.match(text.strip())
        if match is None or not 0 < int(match["port"]) < 65536:
            raise ConfigError(
                f"destination {text!r} is not AE@host:port (an AE title of up to 16 characters, a host and a "
                "port 1-65535), e.g. ORTHANC@127.0.0.1:4242"
            )
        return cls(match["ae"], match["host"], int(match["port"]))

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def send(datasets: list[Dataset], destination: Destination, calling_ae: str, timeout: float = 30.0) -> None:
    """C-STORE every data set in one association; PacsError naming the destination when any is refused."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE

    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    for sop_class in sorted({str(ds.SOPClassUID) for ds in datasets}):
        ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    association = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    if not association.is_established:
        raise PacsError(f"could not open an association with {destination} (refused, aborted or unreachable)")
    try:
        for dataset in datasets:
            status = association.send_c_store(dataset)
            code = int(status.Status) if status is not None and "Status" in status else None
            if code is None or code not in (0x0000, 0xB000, 0xB007, 0xB006):  # success or warnings
                raise PacsError(
                    f"{destination} did not store {dataset.SOPInstanceUID} (status "
                    f"{'none: connection lost' if code is None else hex(code)})"
                )
    finally:
        association.release()
