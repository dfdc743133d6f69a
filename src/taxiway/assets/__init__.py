"""Media inputs (HTTPS URLs, data URIs, `runway://` uploads), checked and loaded by the real API's rules."""

from taxiway.assets.errors import AssetError, ProbeError
from taxiway.assets.intake import AssetIntake, AssetPolicy, AssetRejected, LoadedAsset
from taxiway.assets.kinds import AssetKind
from taxiway.assets.probe import MediaInfo, probe

__all__ = [
    "AssetError",
    "AssetIntake",
    "AssetKind",
    "AssetPolicy",
    "AssetRejected",
    "LoadedAsset",
    "MediaInfo",
    "ProbeError",
    "probe",
]
