#include "runtime.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <corun/core/detail/mailbox.hpp>
#include <corun/fetch/fetch.hpp>
#include <corun/fetch/queue.hpp>
#include <corun/fs/file.hpp>
#include <corun/http/errors.hpp>
#include <corun/http/response.hpp>
#include <corun/redis/errors.hpp>
#include <corun/text/decode.hpp>
#include <corun/text/encoding.hpp>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace corun::python {

namespace {

using namespace std::chrono_literals;

// How long a blocking wait sleeps between two looks at Python's signal flags:
// the latency of Ctrl-C while a *_sync call waits.
constexpr auto kSignalCheckSlice = 50ms;

struct Runtime {
  std::mutex mutex;
  LoopThread* thread = nullptr;  // never deleted: other threads may still hold a reference
  bool shut_down = false;
  // `thread` while it runs and the interpreter is not shutting down: the
  // lock-free path of loop_thread().
  std::atomic<LoopThread*> running{nullptr};
};

Runtime& runtime() {
  static auto* r = new Runtime();
  return *r;
}

// Starts the loop thread with every asynchronous signal blocked, so SIGINT and
// friends are delivered to Python's threads (the main thread runs Python's
// handlers) and never interrupt the loop thread, nor the threads it starts
// (libuv's pool, curl's resolver), which inherit the mask.
LoopThread* start_loop_thread() {
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  LoopThread* lt = nullptr;
  try {
    lt = new LoopThread();
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return lt;
}

// Python objects the per-call paths use, looked up once and then kept for
// the process's life (never released: a daemon thread may still use them
// while the interpreter finalizes). GIL held. No function-local static: its
// guard would be held across the import, which may release the GIL, and a
// second thread arriving meanwhile would wait on the guard holding the GIL.
py::handle kept_attr(PyObject*& slot, const char* module, const char* name) {
  if (slot == nullptr) {
    py::object o = py::module_::import(module).attr(name);
    if (slot == nullptr) slot = o.release().ptr();
  }
  return slot;
}
py::handle kept_str(PyObject*& slot, const char* text) {
  if (slot == nullptr) {
    PyObject* s = PyUnicode_InternFromString(text);
    if (s == nullptr) throw py::error_already_set();
    if (slot == nullptr) {
      slot = s;
    } else {
      Py_DECREF(s);
    }
  }
  return slot;
}

PyObject* g_get_running_loop = nullptr;
PyObject* g_mailbox_of = nullptr;
PyObject* g_deliver = nullptr;
PyObject* g_str_done = nullptr;
PyObject* g_str_cancelled = nullptr;
PyObject* g_str_set_result = nullptr;
PyObject* g_str_create_future = nullptr;
PyObject* g_str_add_done_callback = nullptr;
PyObject* g_str_remove_done_callback = nullptr;

py::object call_method(py::handle obj, PyObject*& name_slot, const char* name) {
  PyObject* r = PyObject_CallMethodNoArgs(obj.ptr(), kept_str(name_slot, name).ptr());
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}
py::object call_method(py::handle obj, PyObject*& name_slot, const char* name, py::handle arg) {
  PyObject* r = PyObject_CallMethodOneArg(obj.ptr(), kept_str(name_slot, name).ptr(), arg.ptr());
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(r);
}
bool truth(const py::object& o) {
  int yes = PyObject_IsTrue(o.ptr());
  if (yes < 0) throw py::error_already_set();
  return yes != 0;
}

py::object builtin(const char* name) {
  return py::module_::import("builtins").attr(name);
}
py::object asyncio_attr(const char* name) {
  return py::module_::import("asyncio").attr(name);
}
// python/corun/errors.py: the exception classes.
py::object error_class(const char* name) {
  return py::module_::import("corun.errors").attr(name);
}

py::object client_error(const char* cls, const http::ClientError& e) {
  return error_class(cls)(e.what(), py::arg("url") = e.url());
}
py::object response_error(const char* cls, const http::ClientResponseError& e) {
  return error_class(cls)(e.what(), py::arg("url") = e.url(), py::arg("status") = e.status(),
                          py::arg("reason") = e.reason());
}

// Ties an asyncio Future to a C++ result until the result has been handed to
// the Future's loop. Holds Python objects: they are released under the GIL by
// deliver(); a link that was never delivered leaks them rather than touching
// Python without the GIL.
struct FutureLink {
  py::object deliver_fn;  // corun.runtime._deliver
  py::object loop;
  py::object settle;
  py::object future;

  FutureLink() = default;
  FutureLink(const FutureLink&) = delete;
  FutureLink& operator=(const FutureLink&) = delete;
  ~FutureLink() {
    deliver_fn.release();
    loop.release();
    settle.release();
    future.release();
  }

  // On the thread completing the C++ future (usually the loop thread).
  void deliver() {
    py::gil_scoped_acquire gil;
    if (!loop) return;
    try {
      deliver_fn(loop, settle, future);
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("corun: delivering a result to its asyncio loop");
    }
    deliver_fn = py::object();
    loop = py::object();
    settle = py::object();
    future = py::object();
  }
};

// Cancelling the asyncio Future (task.cancel(), a timeout, an interrupted
// cell) cancels the C++ task: the Future gets a done callback that looks
// whether it was cancelled. One is made per call, so it is an object of a
// small type of its own that holds the Pending: one allocation, and not
// tracked by the garbage collector (it refers to no Python object). A
// pybind11 cpp_function costs several times more to create; a C function
// bound to a capsule took three allocations and a tracked object.
struct CancelHook {
  PyObject ob_base;  // PyObject_HEAD
  std::shared_ptr<Pending> pending;
};

PyObject* cancel_hook_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  PyObject* future = nullptr;
  if (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0) {
    PyErr_SetString(PyExc_TypeError, "the cancel hook takes no keyword arguments");
    return nullptr;
  }
  if (!PyArg_UnpackTuple(args, "_cancel_hook", 1, 1, &future)) return nullptr;
  PyObject* cancelled = PyObject_CallMethodNoArgs(future, g_str_cancelled);
  if (cancelled == nullptr) return nullptr;
  int yes = PyObject_IsTrue(cancelled);
  Py_DECREF(cancelled);
  if (yes < 0) return nullptr;
  if (yes != 0) {
    try {
      reinterpret_cast<CancelHook*>(self)->pending->cancel();
    } catch (...) {
      try {
        reraise_as_python();
      } catch (py::error_already_set& e) {
        e.restore();
      }
      return nullptr;
    }
  }
  Py_RETURN_NONE;
}

void cancel_hook_dealloc(PyObject* self) {
  PyTypeObject* type = Py_TYPE(self);
  std::destroy_at(&reinterpret_cast<CancelHook*>(self)->pending);
  type->tp_free(self);
  Py_DECREF(type);  // a heap type: each instance holds it
}

// The hook's type, made once (GIL held) and kept for the process's life.
PyTypeObject* g_cancel_hook_type = nullptr;

PyTypeObject* cancel_hook_type() {
  if (g_cancel_hook_type == nullptr) {
    static PyType_Slot slots[] = {
        {Py_tp_call, reinterpret_cast<void*>(&cancel_hook_call)},
        {Py_tp_dealloc, reinterpret_cast<void*>(&cancel_hook_dealloc)},
        {Py_tp_doc, const_cast<char*>("Cancels the C++ task when its Future was cancelled.")},
        {0, nullptr}};
    static PyType_Spec spec = {"corun._corun._CancelHook", sizeof(CancelHook), 0,
                               Py_TPFLAGS_DEFAULT, slots};
    PyObject* type = PyType_FromSpec(&spec);
    if (type == nullptr) throw py::error_already_set();
    g_cancel_hook_type = reinterpret_cast<PyTypeObject*>(type);
  }
  return g_cancel_hook_type;
}

py::object make_cancel_hook(const std::shared_ptr<Pending>& pending) {
  kept_str(g_str_cancelled, "cancelled");
  PyTypeObject* type = cancel_hook_type();
  PyObject* hook = type->tp_alloc(type, 0);  // holds a reference to type
  if (hook == nullptr) throw py::error_already_set();
  std::construct_at(&reinterpret_cast<CancelHook*>(hook)->pending, pending);
  return py::reinterpret_steal<py::object>(hook);
}

// Runs on the asyncio loop's thread: moves the outcome into the Future.
// cancel_hook (may be null): the Future's done callback from make_cancel_hook,
// removed first when the Future completes normally, so that completing it
// schedules only its awaiter's wake-up and not a callback with nothing to do.
void settle_future(Pending& pending, py::handle future, py::handle cancel_hook = {}) {
  if (truth(call_method(future, g_str_done, "done"))) {  // cancelled meanwhile
    pending.discard();  // nobody takes the value: what it holds goes now
    return;
  }
  if (cancel_hook) {
    call_method(future, g_str_remove_done_callback, "remove_done_callback", cancel_hook);
  }
  bool failed = false;
  py::object value = pending.outcome(failed);
  if (!failed) {
    call_method(future, g_str_set_result, "set_result", value);
  } else if (py::isinstance(value, asyncio_attr("CancelledError"))) {
    future.attr("cancel")(py::str(value));
  } else {
    future.attr("set_exception")(value);
  }
}

// Completions bound for one asyncio loop. The C++ side queues them without the
// GIL and wakes the asyncio loop through an eventfd the loop watches
// (loop.add_reader, set up by corun.runtime._mailbox); the loop settles every queued
// Future in one callback. So the loop thread never waits for the GIL, and many
// completions cost one wake-up (call_soon_threadsafe took the GIL and wrote
// the loop's self-pipe once per completion).
class Mailbox {
 public:
  Mailbox() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;
  ~Mailbox() {
    // Deliveries never drained (their loop is gone): their C++ results go
    // now, their Python references at the next drain (this may be a thread
    // without the GIL; drop_results).
    drop_results(deliveries_.close());
    if (fd_ >= 0) ::close(fd_);
  }

  struct Delivery {
    std::shared_ptr<Pending> pending;
    PyObject* future;       // a strong reference, released in drain() (GIL held)
    PyObject* cancel_hook;  // likewise: the Future's done callback (make_cancel_hook)
  };

  // Deliveries that will never be settled (their loop closed or died), their
  // C++ values already dropped: their Python references wait here for a
  // thread holding the GIL (any mailbox's drain() or close()). What is here
  // at exit stays: nothing may touch Python then.
  class Graveyard {
   public:
    void bury(const std::vector<Delivery*>& ds) {
      if (ds.empty()) return;
      std::lock_guard lock(mutex_);
      buried_.insert(buried_.end(), ds.begin(), ds.end());
      any_.store(true, std::memory_order_release);
    }
    // GIL held.
    void release() {
      if (!any_.load(std::memory_order_acquire)) return;
      std::vector<Delivery*> ds;
      {
        std::lock_guard lock(mutex_);
        ds.swap(buried_);
        any_.store(false, std::memory_order_relaxed);
      }
      for (Delivery* d : ds) {
        std::unique_ptr<Delivery> owned(d);
        Py_XDECREF(d->cancel_hook);
        Py_XDECREF(d->future);
      }
    }

   private:
    std::mutex mutex_;
    std::vector<Delivery*> buried_;
    std::atomic<bool> any_{false};
  };
  // Never destroyed: a Mailbox may go after the interpreter's exit handlers.
  static Graveyard& graveyard() {
    static auto* g = new Graveyard;
    return *g;
  }

  // The asyncio loop's thread (as close() and drain()).
  int fd() const { return fd_; }

  // Any thread, no GIL. After close(), a delivery is never settled (its loop
  // has closed: nobody awaits it); its value is dropped, and its Python
  // references go with the next drain() of any mailbox.
  void push(Delivery* d) {
    // The eventfd is written under the queue's lock, so close() cannot close
    // the descriptor in between; only the first delivery of a batch writes.
    bool queued = deliveries_.post(d, [this] {
      std::uint64_t one = 1;
      while (::write(fd_, &one, sizeof one) < 0 && errno == EINTR) {
      }
    });
    if (!queued) drop_results({d});
  }

  // The asyncio loop's thread, when its loop is about to close: the
  // descriptor goes now rather than when the Mailbox is collected.
  void close() {
    if (fd_ < 0) return;
    drop_results(deliveries_.close());
    ::close(fd_);
    fd_ = -1;
    graveyard().release();  // GIL held: what was just dropped goes too
  }

  // The asyncio loop's reader callback (its thread, GIL held).
  void drain() {
    graveyard().release();  // a closed loop's deliveries, if any
    if (fd_ < 0) return;
    // The eventfd first: a delivery pushed after it was read but before the
    // batch is taken rides with this batch; one pushed after the batch is
    // taken writes the eventfd again. (The other order could lose that write.)
    std::uint64_t count = 0;
    while (::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
    for (Delivery* d : deliveries_.drain()) {
      std::unique_ptr<Delivery> owned(d);
      py::object future = py::reinterpret_steal<py::object>(d->future);
      py::object hook = py::reinterpret_steal<py::object>(d->cancel_hook);
      try {
        try {
          settle_future(*d->pending, future, hook);
        } catch (py::error_already_set&) {
          throw;
        } catch (...) {
          reraise_as_python();  // as a Python exception, reported below
        }
      } catch (py::error_already_set& e) {
        // Reported, and the rest of the batch is still settled.
        e.discard_as_unraisable("corun: settling a Future");
      }
      // pending (C++), future and hook (Python) are released here, with the GIL.
    }
  }

 private:
  // Deliveries that will never be settled (their loop closed or died): their
  // C++ values are dropped now, so that what a value holds goes back (a
  // ClientSession's backlog slot, a response's memory); the Delivery and its
  // Python references go to the graveyard, as no GIL may be held here.
  static void drop_results(const std::vector<Delivery*>& left) noexcept {
    for (Delivery* d : left) {
      try {
        d->pending->discard();
      } catch (...) {
        // The value's destructor threw: it is gone all the same.
      }
    }
    try {
      graveyard().bury(left);
    } catch (...) {
      // No memory to keep them: they stay leaked, as before there was a graveyard.
    }
  }

  int fd_;  // -1 once closed
  detail::Mailbox<Delivery*> deliveries_;
};

// start()'s memo of the last loop it served and that loop's mailbox. A
// script's or a notebook's calls all come from one loop, and asking
// corun.runtime._mailbox (a WeakKeyDictionary lookup in Python) costs more than
// the rest of start(). The loop is held by a weak reference, so a loop that
// died (or a new one at its address) is never taken for it; a mailbox that was
// closed (_forget_loop) is asked for again. GIL held (which also orders this
// with Mailbox::close()). Never released: nothing here may run at exit.
struct MailboxMemo {
  PyObject* loop_ref = nullptr;  // a weak reference to the loop
  std::shared_ptr<Mailbox> mailbox;
};
MailboxMemo* g_mailbox_memo = nullptr;

// asyncio.get_running_loop() for start(), without its system call. CPython
// 3.11's version calls getpid() each time (a loop that ran before a fork is
// not running in the child), about a microsecond here: a quarter of start()
// (bench/README.md, "Sitting 20"). 3.11 keeps the running loop in the thread
// state's dict, in a _RunningLoopHolder (the loop and the pid that set it)
// that is replaced, never changed, whenever a loop starts or stops running on
// the thread. Read here the same way, with the pid compared to one kept by
// this process (set at import and again in a fork's child). Any other
// version, or a holder not of the expected type and size, asks asyncio.
#if !defined(PYPY_VERSION) && PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
constexpr bool kReadLoopHolder = true;
#else
constexpr bool kReadLoopHolder = false;
#endif
struct RunningLoopHolder {  // _asynciomodule.c's PyRunningLoopHolder (3.7-3.11)
  PyObject ob_base;         // PyObject_HEAD
  PyObject* rl_loop;
  pid_t rl_pid;
};
std::atomic<pid_t> g_pid{0};
PyObject* g_str_running_loop_key = nullptr;

void remember_pid() {
  g_pid.store(::getpid(), std::memory_order_relaxed);
}

// A fork's child has only the thread that forked: no loop thread. Its first
// corun call starts its own (loop_thread()), and what the parent's loop thread
// owned (sessions' connections, whose sockets the child shares with the
// parent) is left alone: fork_generation() tells which process made it.
std::atomic<std::uint64_t> g_fork_generation{0};

void lock_runtime_for_fork() {
  runtime().mutex.lock();
}
void unlock_runtime_in_parent() {
  runtime().mutex.unlock();
}
void reset_runtime_in_child() {
  remember_pid();
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  Runtime& r = runtime();
  // Left, not deleted: its thread does not exist here, and its loop's objects
  // are the parent's.
  r.thread = nullptr;
  r.running.store(nullptr, std::memory_order_release);
  r.mutex.unlock();
}

py::object running_loop() {
  if constexpr (kReadLoopHolder) {
    if (PyObject* dict = PyThreadState_GetDict()) {  // borrowed; null sets no error
      PyObject* key = kept_str(g_str_running_loop_key, "__asyncio_running_event_loop__").ptr();
      PyObject* holder = PyDict_GetItemWithError(dict, key);  // borrowed
      if (holder == nullptr && PyErr_Occurred() != nullptr) throw py::error_already_set();
      if (holder != nullptr && Py_TYPE(holder)->tp_basicsize == sizeof(RunningLoopHolder) &&
          std::strcmp(Py_TYPE(holder)->tp_name, "_RunningLoopHolder") == 0) {
        const auto* h = reinterpret_cast<const RunningLoopHolder*>(holder);
        if (h->rl_loop != nullptr && h->rl_loop != Py_None &&
            h->rl_pid == g_pid.load(std::memory_order_relaxed)) {
          return py::reinterpret_borrow<py::object>(h->rl_loop);
        }
      }
    }
  }
  // RuntimeError: no running event loop.
  return kept_attr(g_get_running_loop, "asyncio", "get_running_loop")();
}

// The mailbox of loop; null when the loop cannot watch file descriptors.
std::shared_ptr<Mailbox> mailbox_of(const py::object& loop) {
  if (g_mailbox_memo == nullptr) g_mailbox_memo = new MailboxMemo;
  MailboxMemo& memo = *g_mailbox_memo;
  if (memo.loop_ref != nullptr && PyWeakref_GetObject(memo.loop_ref) == loop.ptr() &&
      memo.mailbox->fd() >= 0) {
    return memo.mailbox;
  }
  py::object box = kept_attr(g_mailbox_of, "corun.runtime", "_mailbox")(loop);
  if (box.is_none()) return nullptr;
  auto mailbox = box.cast<std::shared_ptr<Mailbox>>();
  PyObject* ref = PyWeakref_NewRef(loop.ptr(), nullptr);
  if (ref == nullptr) {  // a loop without weak references: not remembered
    PyErr_Clear();
    return mailbox;
  }
  Py_XDECREF(memo.loop_ref);
  memo.loop_ref = ref;
  memo.mailbox = mailbox;
  return mailbox;
}

}  // namespace

LoopThread& loop_thread() {
  Runtime& r = runtime();
  if (LoopThread* lt = r.running.load(std::memory_order_acquire)) return *lt;
  // The first call starts the thread, and waits for it (and for the mutex)
  // without the GIL: libuv allocates with Python's raw allocator (see
  // module.cpp), which under tracemalloc takes the GIL, so the new thread's
  // first allocation would wait for this one forever (with every signal
  // blocked meanwhile: not even Ctrl-C would end it).
  auto start = [&r]() -> LoopThread* {
    std::lock_guard lock(r.mutex);
    if (r.shut_down) return nullptr;
    if (!r.thread) {
      r.thread = start_loop_thread();
      r.running.store(r.thread, std::memory_order_release);
    }
    return r.thread;
  };
  LoopThread* lt = PyGILState_Check() != 0 ? without_gil(start) : start();
  if (!lt) throw RuntimeError("corun's loop thread has stopped: the interpreter is shutting down");
  return *lt;
}

void shutdown() {
  Runtime& r = runtime();
  LoopThread* lt = nullptr;
  {
    std::lock_guard lock(r.mutex);
    if (r.shut_down) return;
    r.shut_down = true;
    r.running.store(nullptr, std::memory_order_release);
    lt = r.thread;
  }
  if (!lt) return;
  // Tasks still running are cancelled; their completions take the GIL to reach
  // their asyncio loops, so release it while the thread winds down.
  without_gil([lt] { lt->stop(); });
}

std::uint64_t fork_generation() noexcept {
  return g_fork_generation.load(std::memory_order_relaxed);
}

void post_to_loop_or_leak(std::function<void()> f) {
  Runtime& r = runtime();
  LoopThread* lt = nullptr;
  {
    std::lock_guard lock(r.mutex);
    if (!r.shut_down) lt = r.thread;
  }
  auto* owned = new std::function<void()>(std::move(f));
  // No loop (any more): *owned is leaked on purpose.
  if (!lt) return;  // NOLINT(clang-analyzer-cplusplus.NewDeleteLeaks)
  try {
    lt->call_soon_threadsafe([owned] {
      (*owned)();
      delete owned;
    });
  } catch (const RuntimeError&) {
    // The loop closed meanwhile: leak on purpose, as above.
  }
}

py::object exception_object(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const py::error_already_set& err) {
    return err.value();
  } catch (const CancelledError& c) {
    if (c.message().empty()) return asyncio_attr("CancelledError")();
    return asyncio_attr("CancelledError")(c.message());
  } catch (const KeyboardInterrupt&) {
    return builtin("KeyboardInterrupt")();
  } catch (const GeneratorExit&) {
    return builtin("GeneratorExit")();
  } catch (const http::TooManyRedirects& x) {
    // The redirects followed, as native responses: corun.http wraps them in
    // ClientResponse objects (_own_history) where it knows the request.
    py::list history;
    for (const http::Response& r : x.history()) {
      history.append(py::cast(std::make_shared<http::Response>(r)));
    }
    return error_class("TooManyRedirects")(
        x.what(), py::arg("url") = x.url(), py::arg("status") = x.status(),
        py::arg("reason") = x.reason(), py::arg("history") = history);
  } catch (const http::ContentTypeError& x) {
    return response_error("ContentTypeError", x);
  } catch (const http::ClientResponseError& x) {
    return response_error("ClientResponseError", x);
  } catch (const http::ClientConnectorCertificateError& x) {
    return client_error("ClientConnectorCertificateError", x);
  } catch (const http::ClientSSLError& x) {
    return client_error("ClientSSLError", x);
  } catch (const http::ServerTimeoutError& x) {
    return error_class("ServerTimeoutError")(x.what(), py::arg("url") = x.url());
  } catch (const http::ClientConnectorDNSError& x) {
    return client_error("ClientConnectorDNSError", x);
  } catch (const http::ClientConnectorError& x) {
    return client_error("ClientConnectorError", x);
  } catch (const http::ServerDisconnectedError& x) {
    return client_error("ServerDisconnectedError", x);
  } catch (const http::ClientConnectionError& x) {
    return client_error("ClientConnectionError", x);
  } catch (const http::ClientPayloadError& x) {
    return client_error("ClientPayloadError", x);
  } catch (const http::InvalidURL& x) {
    return client_error("InvalidURL", x);
  } catch (const http::ClientError& x) {
    return client_error("ClientError", x);
  } catch (const fetch::OptionsError& x) {
    return builtin("ValueError")(x.what());
  } catch (const fetch::QueueUrlError& x) {
    return builtin("ValueError")(x.what());
  } catch (const fetch::QueueError& x) {
    return error_class("QueueError")(x.what());
  } catch (const redis::Error& x) {  // the shared crawl's server, past its setup
    return error_class("QueueError")(x.what());
  } catch (const fetch::SetupError& x) {
    return builtin("OSError")(x.what());
  } catch (const fs::FileError& x) {
    return builtin("OSError")(x.code().value(), x.what(), x.path().string());
  } catch (const TimeoutError& x) {
    return builtin("TimeoutError")(x.what());
  } catch (const ValueError& x) {
    return builtin("ValueError")(x.what());
  } catch (const InvalidStateError& x) {
    return asyncio_attr("InvalidStateError")(x.what());
  } catch (const ExceptionGroup& g) {
    py::list inner;
    for (const auto& each : g.exceptions()) inner.append(exception_object(each));
    return builtin("BaseExceptionGroup")(g.what(), inner);
  } catch (const Error& x) {
    return builtin("RuntimeError")(x.what());
  } catch (const text::LookupError& x) {
    return builtin("LookupError")(x.what());
  } catch (const text::DecodeError& x) {
    return builtin("UnicodeDecodeError")(std::string(text::name(x.encoding())), py::bytes(),
                                         x.offset(), x.offset() + 1, "invalid byte sequence");
  } catch (const std::bad_alloc&) {
    return builtin("MemoryError")();
  } catch (const std::invalid_argument& x) {
    return builtin("ValueError")(x.what());
  } catch (const std::exception& x) {
    return builtin("RuntimeError")(x.what());
  } catch (...) {
    return builtin("RuntimeError")("unknown C++ exception");
  }
}

void raise_exception_object(py::handle exception) {
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exception.ptr())), exception.ptr());
  throw py::error_already_set();
}

void reraise_as_python() {
  py::object e = exception_object(std::current_exception());
  raise_exception_object(e);
}

std::shared_ptr<Pending> Call::take_and_submit(PyObject* loop) {
  if (!submit_) {
    throw py::value_error(
        "this corun call was already started: a coroutine can be awaited only once");
  }
  Submit submit = std::move(submit_);
  submit_ = nullptr;
  try {
    if (on_submit_) {
      OnSubmit told = std::move(on_submit_);
      on_submit_ = nullptr;
      told(loop);
    }
    return submit();
  } catch (py::error_already_set&) {
    throw;
  } catch (...) {
    reraise_as_python();
  }
}

py::object Call::start() {
  py::object loop = running_loop();  // RuntimeError: no running event loop
  py::object future = call_method(loop, g_str_create_future, "create_future");
  std::shared_ptr<Pending> pending = take_and_submit(loop.ptr());
  started_ = pending;

  py::object hook = make_cancel_hook(pending);
  call_method(future, g_str_add_done_callback, "add_done_callback", hook);
  // Null: the loop cannot watch an fd.
  if (std::shared_ptr<Mailbox> mailbox = mailbox_of(loop)) {
    auto* delivery = new Mailbox::Delivery{pending, future.inc_ref().ptr(), hook.release().ptr()};
    pending->add_done_callback([mailbox, delivery] { mailbox->push(delivery); });
    return future;
  }
  auto link = std::make_shared<FutureLink>();
  link->deliver_fn =
      py::reinterpret_borrow<py::object>(kept_attr(g_deliver, "corun.runtime", "_deliver"));
  link->loop = loop;
  link->future = future;
  link->settle = py::cpp_function([pending](py::handle f) { settle_future(*pending, f); });
  pending->add_done_callback([link] { link->deliver(); });
  return future;
}

namespace {
bool shutting_down() {
  Runtime& r = runtime();
  std::lock_guard lock(r.mutex);
  return r.shut_down;
}
}  // namespace

void Call::submit() {
  if (submitted_) throw py::value_error("this corun call was already submitted");
  submitted_ = take_and_submit(nullptr);
}

void Call::cancel() {
  if (submitted_) submitted_->cancel();
}

void Call::cancel_started() {
  if (std::shared_ptr<Pending> p = started_.lock()) p->cancel_task();
}

namespace {
// corun.runner._sigint_guard_for_wait(): None, or the function that puts back
// the SIGINT handler it wrapped (a running loop's, which cannot act while
// this thread blocks, so that Ctrl-C raises KeyboardInterrupt here). None
// when the package is not there (the bare extension module).
py::object sigint_guard() {
  static PyObject* guard = [] {
    try {
      py::object f = py::module_::import("corun.runner").attr("_sigint_guard_for_wait");
      return f.release().ptr();
    } catch (py::error_already_set&) {
      return static_cast<PyObject*>(nullptr);
    }
  }();
  if (guard == nullptr) return py::none();
  try {
    return py::reinterpret_borrow<py::object>(guard)();
  } catch (py::error_already_set& e) {
    // (signal.signal refused, say): the wait goes on with the handler as it is.
    e.discard_as_unraisable("corun: wrapping the SIGINT handler");
    return py::none();
  }
}

// Calls the restore function sigint_guard() gave, if any (GIL held).
class SigintRestore {
 public:
  explicit SigintRestore(py::object restore) : restore_(std::move(restore)) {}
  SigintRestore(const SigintRestore&) = delete;
  SigintRestore& operator=(const SigintRestore&) = delete;
  ~SigintRestore() {
    if (restore_.is_none()) return;
    try {
      restore_();
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("corun: putting back the SIGINT handler");
    }
  }

 private:
  py::object restore_;
};
}  // namespace

py::object Call::wait(const py::object& on_interrupt) {
  SigintRestore sigint(sigint_guard());
  std::shared_ptr<Pending> pending = submitted_ ? std::move(submitted_) : take_and_submit(nullptr);
  started_ = pending;  // (cancel_started(): an on_interrupt's way to stop it)
  // The first Ctrl-C's KeyboardInterrupt while the work winds down (on_interrupt).
  std::optional<py::error_already_set> interrupted;
  for (;;) {
    if (without_gil([&] { return pending->wait_for(kSignalCheckSlice); })) {
      // The interpreter is exiting and stopped the loop thread, which cancelled
      // this work; only daemon threads still run now. Such a thread stays
      // parked, as Python parks daemon threads, rather than waking up with an
      // error the exiting interpreter would half print.
      if (shutting_down()) {
        without_gil([] { park_forever(); });
      }
      break;
    }
    if (PyErr_CheckSignals() != 0) {  // Ctrl-C: KeyboardInterrupt is now set
      if (on_interrupt.is_none() || interrupted) {
        pending->cancel();
        throw py::error_already_set();
      }
      interrupted.emplace();  // takes the KeyboardInterrupt out of the error indicator
      try {
        on_interrupt();
      } catch (...) {
        pending->cancel();
        throw;
      }
    }
  }
  bool failed = false;
  py::object value = pending->outcome(failed);
  if (interrupted) throw std::move(*interrupted);
  if (failed) raise_exception_object(value);
  return value;
}

namespace {
Task<> sleep_for(Clock::duration d) {
  co_await corun::sleep(d);
}
}  // namespace

void bind_runtime(py::module_& m) {
  remember_pid();
  ::pthread_atfork(&lock_runtime_for_fork, &unlock_runtime_in_parent, &reset_runtime_in_child);
  py::class_<Call>(m, "_Call", "One piece of C++ work for the loop thread, started once.")
      .def("start", &Call::start,
           "Submits the work; returns an asyncio Future on the running loop.")
      .def("wait", &Call::wait, py::arg("on_interrupt") = py::none(),
           "Submits the work (unless submit() did) and blocks until it is done. Ctrl-C "
           "cancels it, or with on_interrupt calls that and waits for the work to end.")
      .def("submit", &Call::submit, "Submits the work now; wait() then waits for it.")
      .def("cancel", &Call::cancel, "Cancels work started by submit().")
      .def("cancel_started", &Call::cancel_started,
           "Cancels the work start() submitted; its Future completes once the work has ended.");

  m.def(
      "_sleep",
      [](double seconds) {
        auto d =
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
        return make_call(sleep_for(d), [] { return py::none(); });
      },
      py::arg("seconds"));
  py::class_<Mailbox, std::shared_ptr<Mailbox>>(
      m, "_Mailbox", "Completions bound for one asyncio loop (an eventfd it watches).")
      .def(py::init<>())
      .def_property_readonly("fd", &Mailbox::fd)
      .def("drain", &Mailbox::drain, "Settles every completed Future (the fd's reader).")
      .def("close", &Mailbox::close, "Closes the fd (its loop is closing).");
  m.def("_shutdown", &shutdown, "Stops the loop thread (registered with atexit).");
  m.def(
      "_loop_thread_running",
      [] {
        Runtime& r = runtime();
        std::lock_guard lock(r.mutex);
        return r.thread != nullptr && !r.shut_down;
      },
      "True once the loop thread was started and until interpreter exit (for tests).");
}

}  // namespace corun::python
