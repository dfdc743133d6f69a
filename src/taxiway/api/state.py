"""What the running app holds, reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from taxiway.assets.intake import AssetIntake
from taxiway.config import Settings
from taxiway.engines.registry import EngineRegistry
from taxiway.storage.blobs import BlobStore
from taxiway.storage.signing import UrlSigner
from taxiway.tasks.scheduler import Scheduler


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: BlobStore
    signer: UrlSigner
    engines: EngineRegistry
    scheduler: Scheduler
    assets: AssetIntake


async def app_state(request: Request) -> AppState:
    """Async on purpose: FastAPI runs plain `def` dependencies in a thread pool."""
    state: AppState = request.app.state.taxiway
    return state
