// corun: asyncio's model of asynchronous programming in C++20.
// The umbrella header for the core runtime (its semantics, numbered: docs/behaviour.md).
#pragma once

#include "corun/core/async_generator.hpp"
#include "corun/core/error.hpp"
#include "corun/core/event.hpp"
#include "corun/core/future.hpp"
#include "corun/core/gather.hpp"
#include "corun/core/lock.hpp"
#include "corun/core/log.hpp"
#include "corun/core/loop.hpp"
#include "corun/core/queue.hpp"
#include "corun/core/run.hpp"
#include "corun/core/semaphore.hpp"
#include "corun/core/task.hpp"
#include "corun/core/task_group.hpp"
#include "corun/core/threads.hpp"
#include "corun/core/time.hpp"
