/* SPDX-License-Identifier: Apache-2.0 */
// libwal_cxx.cc: libwal from C++. Includes <libwal.h> as a C++ program
// does (its extern "C" guards are what make the names link), then, against
// the walld at argv[1] (tests/integ/client_cxx.sh starts one on a private
// socket, with an empty log), appends, syncs, pipelines, and reads back
// with cursors, checking every result. Prints "ok: ..." lines and "last
// LSN N"; exits 1 with a message at the first failure.
#include <libwal.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

struct ConnClose {
	void operator()(wal_conn *c) const { wal_conn_close(c); }
};
struct CursorClose {
	void operator()(wal_cursor *c) const { wal_cursor_close(c); }
};
using Conn = std::unique_ptr<wal_conn, ConnClose>;
using Cursor = std::unique_ptr<wal_cursor, CursorClose>;

// One record as appended, to compare with what the cursors return.
struct Rec {
	uint64_t		lsn;
	uint16_t		type;
	uint32_t		tenant;
	uint16_t		vshard;
	std::vector<uint8_t>	payload;
};

[[noreturn]] void
die(const std::string &what)
{
	std::fprintf(stderr, "libwal_cxx: FAIL: %s\n", what.c_str());
	std::exit(1);
}

void
check(bool ok, const std::string &what)
{
	if (!ok)
		die(what);
}

// Dies unless r is OK, with libwal's words for it.
void
expect_ok(wal_conn *c, wal_result r, const std::string &what)
{
	if (r != WAL_RESULT_OK)
		die(what + ": " + wal_result_name(r) + ": " + wal_conn_error(c));
}

std::vector<uint8_t>
bytes(const std::string &s)
{
	return std::vector<uint8_t>(s.begin(), s.end());
}

// Appends one record, blocking; records it in log.
uint64_t
append(wal_conn *c, std::vector<Rec> &log, uint16_t type, uint32_t tenant,
    uint16_t vshard, const std::vector<uint8_t> &p)
{
	uint64_t lsn = 0;

	expect_ok(c, wal_conn_append(c, type, tenant, vshard, p.data(),
	    p.size(), &lsn), "append");
	check(log.empty() || lsn > log.back().lsn, "append: LSN not increasing");
	log.push_back(Rec{lsn, type, tenant, vshard, p});
	return lsn;
}

// Reads the log (filtered by tenant when has_tenant) and compares it with
// want, record by record.
void
read_back(wal_conn *c, const std::vector<Rec> &want, bool has_tenant,
    uint32_t tenant)
{
	wal_cursor_opts	 q;
	wal_cursor	*raw = nullptr;
	wal_entry	 e;
	size_t		 i = 0;
	int		 rc;

	std::memset(&q, 0, sizeof q);
	q.from = 0;
	q.has_tenant = has_tenant ? 1 : 0;
	q.tenant = tenant;
	expect_ok(c, wal_cursor_open(c, &q, &raw), "cursor open");
	Cursor cur(raw);
	while ((rc = wal_cursor_next(cur.get(), 10000, &e)) == 1) {
		while (i < want.size() && has_tenant && want[i].tenant != tenant)
			i++;
		check(i < want.size(), "read: a record after the last one "
		    "appended, LSN " + std::to_string(e.lsn));
		const Rec &w = want[i];
		const uint8_t *p = static_cast<const uint8_t *>(e.payload);
		check(e.lsn == w.lsn && e.type == w.type &&
		    e.tenant == w.tenant && e.vshard == w.vshard &&
		    e.len == w.payload.size() &&
		    (e.len == 0 || std::memcmp(p, w.payload.data(), e.len) == 0),
		    "read: LSN " + std::to_string(e.lsn) + " is not the record "
		    "appended at LSN " + std::to_string(w.lsn));
		i++;
	}
	check(rc == 0, std::string("read: ") +
	    (rc == WAL_CURSOR_AGAIN ? "timed out" :
	    wal_cursor_error(cur.get())));
	while (i < want.size() && has_tenant && want[i].tenant != tenant)
		i++;
	check(i == want.size(), "read: the log ends before LSN " +
	    (i < want.size() ? std::to_string(want[i].lsn) : std::string()));
	check(wal_cursor_next_lsn(cur.get()) == want.back().lsn + 1,
	    "read: next LSN " + std::to_string(wal_cursor_next_lsn(cur.get())));
}

} // namespace

int
main(int argc, char **argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: libwal_cxx SOCKET\n");
		return 64;
	}

	wal_conn *raw = nullptr;
	char *cause = nullptr;
	wal_result r = wal_conn_open(&raw, argv[1], 5000, &cause);
	if (r != WAL_RESULT_OK) {
		std::string why = cause != nullptr ? cause : "";
		std::free(cause);
		die(std::string("connect: ") + wal_result_name(r) + ": " + why);
	}
	Conn conn(raw);
	wal_conn *c = conn.get();
	wal_conn_set_timeout(c, 20000);
	check(wal_conn_version(c) == 2, "protocol version");
	check(std::string(wal_conn_server(c)).rfind("walld ", 0) == 0,
	    "server string");
	check(wal_conn_max_record(c) >= 65536, "max_record");
	expect_ok(c, wal_conn_ping(c), "ping");
	std::printf("ok: connected to %s\n", wal_conn_server(c));

	// Blocking appends: text, empty, every byte value, NULs, 64 KiB.
	std::vector<Rec> log;
	std::vector<uint8_t> all(256), big(65536);
	for (size_t i = 0; i < all.size(); i++)
		all[i] = static_cast<uint8_t>(i);
	for (size_t i = 0; i < big.size(); i++)
		big[i] = static_cast<uint8_t>(i * 131 + (i >> 8));
	check(append(c, log, 1, 42, 3, bytes("hello from C++")) == 1,
	    "the first LSN of an empty log");
	append(c, log, 0, 0, 0, {});
	append(c, log, 65535, 4294967295u, 65535, all);
	append(c, log, 2, 42, 1, bytes(std::string("a\0b\0\n", 5)));
	append(c, log, 3, 7, 2, big);
	std::printf("ok: blocking appends, LSNs 1..%llu\n",
	    static_cast<unsigned long long>(log.back().lsn));

	// Nowait appends, then one sync makes them durable.
	for (uint32_t i = 0; i < 10; i++) {
		std::vector<uint8_t> p = bytes("nowait " + std::to_string(i));
		uint64_t lsn = 0;
		expect_ok(c, wal_conn_append_nowait(c, 4, 42, 0, p.data(),
		    p.size(), &lsn), "append nowait");
		check(lsn == log.back().lsn + 1, "nowait LSN");
		log.push_back(Rec{lsn, 4, 42, 0, p});
	}
	uint64_t durable = 0;
	expect_ok(c, wal_conn_sync(c, &durable), "sync");
	check(durable >= log.back().lsn, "sync: durable LSN below the appends");
	std::printf("ok: nowait appends and sync, durable LSN %llu\n",
	    static_cast<unsigned long long>(durable));

	// Pipelined appends: completions in submission (and LSN) order.
	std::vector<uint64_t> ids;
	for (uint32_t i = 0; i < 1000; i++) {
		std::vector<uint8_t> p = bytes("pipelined " + std::to_string(i));
		uint64_t id = 0;
		expect_ok(c, wal_conn_submit_append(c, 5, 9, i % 4, p.data(),
		    p.size(), 0, &id), "submit append");
		ids.push_back(id);
		log.push_back(Rec{0, 5, 9, static_cast<uint16_t>(i % 4), p});
	}
	size_t first = log.size() - ids.size();
	for (size_t k = 0; k < ids.size(); k++) {
		wal_completion comp;
		check(wal_conn_wait(c, 20000, &comp) == 1, "pipelined: no "
		    "completion");
		check(comp.id == ids[k], "pipelined: completion out of order");
		expect_ok(c, comp.result, "pipelined append");
		check(comp.lsn > log[first + k - 1].lsn, "pipelined: LSN order");
		log[first + k].lsn = comp.lsn;
	}
	check(wal_conn_inflight(c) == 0, "pipelined: requests left in flight");
	std::printf("ok: 1000 pipelined appends\n");

	// Acknowledgement levels: LOCAL succeeds; this walld does not
	// replicate, so REPLICATED completes with REPL_UNAVAILABLE once the
	// record is durable, and the record is in the log.
	wal_conn_set_ack(c, WAL_ACK_LOCAL);
	append(c, log, 6, 42, 0, bytes("ack local"));
	wal_conn_set_ack(c, WAL_ACK_REPLICATED);
	std::vector<uint8_t> rp = bytes("ack replicated");
	uint64_t rlsn = 0;
	r = wal_conn_append(c, 6, 42, 0, rp.data(), rp.size(), &rlsn);
	check(r == WAL_RESULT_REPL_UNAVAILABLE, std::string("replicated "
	    "append: ") + wal_result_name(r));
	check(wal_conn_error_code(c) == 12, "REPL_UNAVAILABLE's code");
	check(!wal_result_retryable(r), "REPL_UNAVAILABLE is not retryable");
	log.push_back(Rec{log.back().lsn + 1, 6, 42, 0, rp});
	wal_conn_set_ack(c, WAL_ACK_DEFAULT);
	expect_ok(c, wal_conn_sync(c, &durable), "sync at the default level");
	check(durable == log.back().lsn, "the replicated record is durable");
	std::printf("ok: ack levels (local ok, replicated: %s)\n",
	    wal_result_name(r));

	// A payload above max_record is refused before it is sent.
	std::vector<uint8_t> huge(wal_conn_max_record(c) + 1);
	uint64_t none = 0;
	r = wal_conn_append(c, 0, 0, 0, huge.data(), huge.size(), &none);
	check(r == WAL_RESULT_TOO_LARGE, std::string("too large: ") +
	    wal_result_name(r));
	check(!wal_conn_closed(c), "the connection stays open");

	// Read it all back, then one tenant's records.
	read_back(c, log, false, 0);
	read_back(c, log, true, 42);
	std::printf("ok: cursors read back all %zu records, and tenant 42's\n",
	    log.size());

	char *text = nullptr;
	expect_ok(c, wal_conn_stats(c, &text), "stats");
	std::string stats(text);
	std::free(text);
	check(stats.find("\ndurable_lsn " + std::to_string(log.back().lsn) +
	    "\n") != std::string::npos, "stats: durable_lsn");
	std::printf("last LSN %llu\n",
	    static_cast<unsigned long long>(log.back().lsn));
	return 0;
}
