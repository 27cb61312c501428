"""What session.get() returns: a coroutine that is also an async context
manager, used up by whichever use comes first (await, async with, close). Its
coroutine is made only when it is used as one, so each path is checked here on
its own. The URL is a closed local port: every request fails fast with
ClientConnectorError, which is all these checks need."""

import asyncio

import pytest

import corun

DEAD = "http://127.0.0.1:9/"  # the discard port: nothing listens there


def run(coro):
    return asyncio.run(coro)


async def with_session(body):
    async with corun.ClientSession() as s:
        return await body(s)


def test_awaited_it_runs_the_request():
    async def body(s):
        with pytest.raises(corun.ClientConnectorError):
            await s.get(DEAD)

    run(with_session(body))


def test_async_with_runs_the_request_and_then_it_is_used_up():
    async def body(s):
        cm = s.get(DEAD)
        with pytest.raises(corun.ClientConnectorError):
            async with cm:
                pass
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            await cm
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            async with cm:
                pass

    run(with_session(body))


def test_closed_before_use_it_never_runs():
    async def body(s):
        cm = s.get(DEAD)
        assert cm.close() is None
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            await cm
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            async with cm:
                pass
        cm.close()  # again: nothing happens, as for a closed coroutine

    run(with_session(body))


def test_awaited_once_then_async_with_says_it_was_awaited():
    async def body(s):
        cm = s.get(DEAD)
        with pytest.raises(corun.ClientConnectorError):
            await cm
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            async with cm:
                pass

    run(with_session(body))


def test_as_a_task_it_runs_the_request():
    async def body(s):
        task = asyncio.create_task(s.get(DEAD))
        with pytest.raises(corun.ClientConnectorError):
            await task

    run(with_session(body))


def test_get_checks_its_url_without_keywords_too():
    async def body(s):
        with pytest.raises(TypeError, match="url"):
            s.get(8)
        with pytest.raises(TypeError, match="url"):
            s.get(b"http://127.0.0.1:9/")

    run(with_session(body))


def test_get_on_a_closed_session_fails_at_once():
    async def body():
        s = corun.ClientSession()
        await s.close()
        with pytest.raises(RuntimeError, match="Session is closed"):
            s.get(DEAD)

    run(body())


def test_never_used_it_warns_as_a_coroutine_never_awaited():
    async def body(s):
        with pytest.warns(RuntimeWarning, match="was never awaited"):
            cm = s.get(DEAD)
            del cm

    run(with_session(body))
