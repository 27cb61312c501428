"""Completions reach the loop that awaits them (python/src/runtime.cpp's
mailbox and its memo of the last loop): several loops in turn, a loop whose
mailbox was closed (corun.run's _forget_loop), a loop that died and a new one.
A completion sent to the wrong loop's mailbox would never settle its Future:
each wait is bounded, so that shows as a TimeoutError, not a hang."""

import asyncio
import gc

import corun
from corun import runtime


async def slept(tag):
    return await asyncio.wait_for(corun.sleep(0.001, tag), 10)


def test_loops_in_turn_each_get_their_own_completions():
    loops = [asyncio.new_event_loop() for _ in range(3)]
    try:
        for round_ in range(4):
            for i, loop in enumerate(loops):
                assert loop.run_until_complete(slept((round_, i))) == (round_, i)
    finally:
        for loop in loops:
            runtime._forget_loop(loop)
            loop.close()


def test_a_loop_whose_mailbox_was_closed_gets_a_new_one():
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(slept("before")) == "before"
        runtime._forget_loop(loop)  # what corun.run does before closing its loops
        assert loop.run_until_complete(slept("after")) == "after"
        assert loop.run_until_complete(slept("again")) == "again"
    finally:
        runtime._forget_loop(loop)
        loop.close()


def test_a_new_loop_after_one_died():
    for n in range(3):
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(slept(n)) == n
        runtime._forget_loop(loop)
        loop.close()
        del loop
        gc.collect()
    # And asyncio.run, which closes its loop without _forget_loop.
    for n in range(3):
        assert asyncio.run(slept(n)) == n
        gc.collect()
