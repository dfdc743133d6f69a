"""Billing rules on a real database, in process: quotas, fairness, usage reports and operator actions."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from support.postgres import postgres_cluster
from taxiway.accounts.repository import create_organization
from taxiway.billing import books, ledger, operator, quotas, tiers, usage
from taxiway.catalog import CATALOG
from taxiway.db.engine import create_engine, session_factory, upgrade_schema
from taxiway.db.tables import Organization, Task, UsageDay
from taxiway.status import TaskStatus
from taxiway.tasks import admission, fairness

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def sessions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The same SQL on both backends: SQLite here, and a throwaway PostgreSQL cluster."""
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(postgres_cluster()).url("taxiway")
        else:
            url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('billing') / 'taxiway.db'}"
        engine = create_engine(url)
        await upgrade_schema(engine)
        yield session_factory(engine)
        await engine.dispose()


@pytest.fixture
async def org(sessions: async_sessionmaker[AsyncSession]) -> str:
    """A fresh organization of tier 1 with 1,000 credits."""
    async with sessions.begin() as session:
        return (await create_organization(session, f"org-{uuid.uuid4()}", 1, 1_000)).id


async def add_task(
    session: AsyncSession,
    organization_id: str,
    created_at: datetime,
    *,
    model: str = "gen4_image",
    status: TaskStatus = TaskStatus.SUCCEEDED,
    key: str | None = "key-a",
) -> str:
    task_id = str(uuid.uuid4())
    session.add(
        Task(
            id=task_id,
            organization_id=organization_id,
            api_key_id=key,
            endpoint="text_to_image",
            model=model,
            status=status.value,
            params={},
            seed=1,
            estimated_credits=5,
            progress=0.0,
            attempts=0,
            created_at=created_at,
            updated_at=created_at,
        )
    )
    await session.flush()
    return task_id


async def spend(
    session: AsyncSession, organization_id: str, at: datetime, amount: int, model: str = "gen4_image"
) -> str:
    """A reservation of `amount` credits for a new task id at `at`; returns the task id."""
    task_id = str(uuid.uuid4())
    await ledger.reserve(session, organization_id, task_id, model, amount, at)
    return task_id


class TestTiers:
    def test_defaults_apply_to_every_model(self) -> None:
        for level, spec in tiers.TIERS.items():
            assert tiers.limits_for(level, "gen4.5") == (
                spec.max_concurrent_generations,
                spec.max_daily_generations,
            )

    def test_a_model_override_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(tiers, "MODEL_LIMITS", {(2, "veo3.1"): tiers.ModelLimits(1, None)})
        assert tiers.limits_for(2, "veo3.1") == tiers.ModelLimits(max_concurrent=1, max_daily=None)
        assert tiers.limits_for(1, "veo3.1") == (2, 200)

    def test_unknown_tier(self) -> None:
        with pytest.raises(ValueError, match="tier must be one of"):
            tiers.limits_for(6, "gen4.5")


class TestFairness:
    def waiting(self, *keys: str) -> list[fairness.Waiting]:
        return [(f"{key}{i}", key, T0 + timedelta(seconds=i)) for i, key in enumerate(keys)]

    def test_one_key_is_oldest_first(self) -> None:
        assert fairness.pick_fair(self.waiting("a", "a", "a"), 2) == ["a0", "a1"]

    def test_keys_take_turns_oldest_first_within_each(self) -> None:
        queue = self.waiting("a", "a", "a", "b", "b", "c")
        assert fairness.pick_fair(queue, None) == ["a0", "b3", "c5", "a1", "b4", "a2"]
        assert fairness.pick_fair(list(reversed(queue)), 3) == ["a0", "b3", "c5"]

    def test_slots_already_held_count_as_turns(self) -> None:
        """One slot frees while key a holds the other: b goes next even though a waited longer."""
        queue = self.waiting("a", "a", "b")
        assert fairness.pick_fair(queue, 1, {"a": 1}) == ["b2"]
        assert fairness.pick_fair(queue, 1, {"a": 1, "b": 1}) == ["a0"]

    def test_nothing_free(self) -> None:
        assert fairness.pick_fair(self.waiting("a"), 0) == []
        assert fairness.pick_fair(self.waiting("a"), -1) == []

    async def test_promotion_reads_slots_and_queues(
        self, sessions: async_sessionmaker[AsyncSession], org: str
    ) -> None:
        async with sessions.begin() as session:
            await add_task(session, org, T0, status=TaskStatus.RUNNING, key="a")
            waiting_a = [
                await add_task(session, org, T0 + timedelta(seconds=i), status=TaskStatus.THROTTLED, key="a")
                for i in (1, 2, 3)
            ]
            late_b = await add_task(
                session, org, T0 + timedelta(seconds=9), status=TaskStatus.THROTTLED, key="b"
            )
            limits = tiers.limits_for(1, "gen4_image")
            slots, _ = await admission.read(session, org, "gen4_image", NOW, limits)
            assert (slots.active, slots.waiting) == (1, True)
            assert slots.must_wait(limits.max_concurrent)  # older tasks wait
            other, _ = await admission.read(session, org, "gen4_turbo", NOW, limits)
            assert not other.must_wait(limits.max_concurrent)
            # Tier 1 has 2 slots, a holds one: b's task takes the free one.
            assert await fairness.next_to_promote(session, org, "gen4_image", 1) == [late_b]
            # Tier 3 has 5: four free, shared in turns.
            assert await fairness.next_to_promote(session, org, "gen4_image", 3) == [late_b, *waiting_a]


class TestQuotas:
    async def test_daily_window_rolls(self, sessions: async_sessionmaker[AsyncSession], org: str) -> None:
        async def used(model: str, now: datetime) -> int:
            return (await admission.read(session, org, model, now, tiers.ModelLimits(None, 1)))[0].daily

        async with sessions.begin() as session:
            for age in (timedelta(hours=23, minutes=59), timedelta(hours=1), timedelta(0)):
                await add_task(session, org, NOW - age, status=TaskStatus.FAILED)
            await add_task(session, org, NOW - timedelta(hours=30))  # outside the window
            await add_task(session, org, NOW, model="gen4_image_turbo")
            assert await used("gen4_image", NOW) == 3
            with pytest.raises(quotas.QuotaExceeded) as info:
                quotas.check_daily("gen4_image", 3, 3)
            assert info.value.status == 429
            assert "gen4_image" in info.value.message
            quotas.check_daily("gen4_image", 3, 4)
            quotas.check_daily("gen4_image", 3, None)
            assert await used("gen4_image_turbo", NOW) == 1  # limits are per model
            # A minute later the oldest of the three is more than 24 h old.
            assert await used("gen4_image", NOW + timedelta(minutes=1, seconds=1)) == 2
            assert await quotas.daily_generations(session, org, NOW) == {
                "gen4_image": 3,
                "gen4_image_turbo": 1,
            }

    async def test_monthly_spend_is_net_and_calendar(
        self, sessions: async_sessionmaker[AsyncSession], org: str
    ) -> None:
        month = datetime(2026, 3, 1, tzinfo=UTC)
        async with sessions.begin() as session:
            await spend(session, org, month - timedelta(seconds=1), 500)  # last month
            charged = await spend(session, org, month, 100)
            assert await ledger.refund(session, org, charged, "gen4_image", NOW, 40) == 40
            await ledger.grant(session, org, 5_000, NOW)  # a grant is not spend
            assert await quotas.monthly_spend(session, org, NOW) == 60
            await ledger.reserve(session, org, "t-fits", "gen4_image", 40, NOW, monthly_cap=100)
        with pytest.raises(ledger.SpendCapReached) as info:
            async with sessions.begin() as session:
                await ledger.reserve(session, org, "t-over", "gen4_image", 1, NOW, monthly_cap=100)
        assert (info.value.cap, info.value.spent) == (100, 100)
        with pytest.raises(quotas.QuotaExceeded) as refused:
            async with sessions.begin() as session:
                await quotas.reserve(session, org, 1, "t-over", "gen4_image", 9_901, NOW)  # tier 1: 10,000
        assert refused.value.status == 429
        assert "monthly" in refused.value.message and "100 spent" in refused.value.message
        async with sessions() as session:
            assert await quotas.monthly_spend(session, org, NOW) == 100
            assert (await books.check(session, NOW)).disagreements == []

    async def test_a_new_month_starts_from_its_own_days(
        self, sessions: async_sessionmaker[AsyncSession], org: str
    ) -> None:
        """The organization's row keeps one month's spend; the next month's first movement sums that
        month's days instead of carrying the last month's total over."""
        april = datetime(2026, 4, 1, tzinfo=UTC)
        async with sessions.begin() as session:
            await spend(session, org, NOW, 300)
            await spend(session, org, april + timedelta(hours=1), 20)
            await ledger.reserve(session, org, "t-april", "gen4_image", 80, april + timedelta(days=2), 100)
        with pytest.raises(ledger.SpendCapReached):  # a refusal rolls its transaction back
            async with sessions.begin() as session:
                await ledger.reserve(session, org, "t-more", "gen4_image", 1, april + timedelta(days=2), 100)
        async with sessions() as session:
            assert await quotas.monthly_spend(session, org, april) == 100
            assert await ledger.balance(session, org) == 1_000 - 400


class TestBooks:
    async def test_kept_totals_agree_until_tampered_with(
        self, sessions: async_sessionmaker[AsyncSession], org: str
    ) -> None:
        async with sessions.begin() as session:
            task_id = await spend(session, org, NOW, 30)
            await ledger.refund(session, org, task_id, "gen4_image", NOW + timedelta(days=1))
            assert await ledger.refund(session, org, task_id, "gen4_image", NOW) == 0  # once only
            await spend(session, org, NOW, 7, model="gen4_image_turbo")
            assert await ledger.balance(session, org) == 993
        async with sessions.begin() as session:
            assert (await books.check(session, NOW)).disagreements == []
            await session.execute(
                update(Organization).where(Organization.id == org).values(credit_balance=5, month_spend=99)
            )
            await session.execute(
                update(UsageDay).where(UsageDay.organization_id == org).values(credits=UsageDay.credits + 1)
            )
            name = await session.scalar(select(Organization.name).where(Organization.id == org))
            report = await books.check(session, NOW)
            assert {(d.total, d.kept, d.ledger) for d in report.disagreements if d.organization == name} == {
                ("balance", 5, 993),
                ("month spend 2026-03", 99, 7),
                ("usage 2026-03-15 gen4_image", 31, 30),
                ("usage 2026-03-15 gen4_image_turbo", 8, 7),
                ("usage 2026-03-16 gen4_image", -29, -30),
            }
            await books.rebuild(session)
            assert (await books.check(session, NOW)).disagreements == []
            assert await ledger.balance(session, org) == 993
            await spend(session, org, NOW, 3)  # the month spend is summed again from the days
            assert (await books.check(session, NOW)).disagreements == []


class TestUsage:
    def test_window_defaults_and_bounds(self) -> None:
        today = date(2026, 3, 15)
        assert usage.usage_window(None, None, today) == (date(2026, 2, 13), date(2026, 3, 15))
        assert usage.usage_window(date(2026, 1, 1), None, today) == (date(2026, 1, 1), date(2026, 1, 31))
        assert usage.usage_window(date(2026, 1, 1), date(2026, 4, 1), today)[1] == date(2026, 4, 1)  # 90 days
        for before in (date(2026, 4, 2), date(2026, 1, 1), date(2025, 12, 1)):
            with pytest.raises(usage.UsageRangeError) as info:
                usage.usage_window(date(2026, 1, 1), before, today)
            assert info.value.field == "beforeDate"

    async def test_report_nets_per_day_and_model(
        self, sessions: async_sessionmaker[AsyncSession], org: str
    ) -> None:
        day1, day2, day3 = (datetime(2026, 3, d, tzinfo=UTC) for d in (1, 2, 3))
        async with sessions.begin() as session:
            await spend(session, org, day1 - timedelta(microseconds=1), 7)  # before the range
            refunded = await spend(session, org, day1, 8)
            await spend(session, org, day1 + timedelta(hours=23, minutes=59, seconds=59), 5)
            await spend(session, org, day1 + timedelta(hours=5), 2, model="gen4_image_turbo")
            await ledger.refund(session, org, refunded, "gen4_image", day2 + timedelta(hours=1))  # next day
            await ledger.grant(session, org, 1_000, day2)
            await spend(session, org, day3, 12)  # `before` is exclusive
            report = await usage.usage_report(session, org, day1.date(), day3.date())
        assert report == {
            "models": ["gen4_image", "gen4_image_turbo"],
            "results": [
                {
                    "date": "2026-03-01",
                    "usedCredits": [
                        {"model": "gen4_image", "amount": 13},
                        {"model": "gen4_image_turbo", "amount": 2},
                    ],
                },
                {"date": "2026-03-02", "usedCredits": [{"model": "gen4_image", "amount": -8}]},
            ],
        }

    async def test_organization_view(self, sessions: async_sessionmaker[AsyncSession], org: str) -> None:
        async with sessions.begin() as session:
            await ledger.reserve(session, org, await add_task(session, org, NOW), "gen4_image", 5, NOW)
            await add_task(session, org, NOW - timedelta(hours=25), model="gen4.5")
            view: dict[str, Any] = await usage.organization_view(session, org, 2, NOW)
        assert view["creditBalance"] == 995
        assert view["tier"]["maxMonthlyCreditSpend"] == tiers.tier(2).max_monthly_credit_spend
        assert set(view["tier"]["models"]) == {model for _endpoint, model in CATALOG}
        assert view["tier"]["models"]["gen4.5"] == {
            "maxConcurrentGenerations": 3,
            "maxDailyGenerations": 1_000,
        }
        assert view["usage"] == {"models": {"gen4_image": {"dailyGenerations": 1}}}


class TestOperator:
    async def test_credits_never_go_below_zero(
        self, sessions: async_sessionmaker[AsyncSession], org: str
    ) -> None:
        async with sessions.begin() as session:
            assert await operator.adjust_credits(session, org, 250, "top-up") == 1_250
            assert await operator.adjust_credits(session, org, -1_250) == 0
            with pytest.raises(ValueError, match="balance is 0"):
                await operator.adjust_credits(session, org, -1)
            with pytest.raises(ValueError, match="zero"):
                await operator.adjust_credits(session, org, 0)

    async def test_tier(self, sessions: async_sessionmaker[AsyncSession], org: str) -> None:
        async with sessions.begin() as session:
            await operator.set_tier(session, org, 4)
            with pytest.raises(ValueError):
                await operator.set_tier(session, org, 0)


async def test_a_round_finds_waiting_groups_by_status_not_by_history(tmp_path: Path) -> None:
    """SQLite plans without statistics: asked for THROTTLED tasks of some organizations, it would walk
    those organizations' whole history by their index (9 ms a scheduler round at 100,000 tasks)."""
    from sqlalchemy import event

    from taxiway.db.tables import Base
    from taxiway.tasks import repository

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}")
    sent: list[tuple[str, Any]] = []

    def record(_connection: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        sent.append((sql, params))

    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        async with session_factory(engine)() as session:
            assert await repository.throttled_groups(session, ["an-organization"]) == []
        sql, params = sent[-1]
        async with engine.connect() as connection:
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row) for row in rows)
        assert "INDEX ix_tasks_status_" in plan and "ix_tasks_org" not in plan, plan
    finally:
        await engine.dispose()
