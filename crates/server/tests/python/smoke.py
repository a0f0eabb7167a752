"""redis-py against relaycache-server: the calls a Python cache user makes first.

Usage: python3 smoke.py PORT. Exits 0 when every check passes; an AssertionError names the failed one.
"""

import sys
import time

import redis


def check_client(r: redis.Redis, proto: int) -> None:
    assert r.ping() is True
    r.flushdb()
    assert r.set("greeting", "hello") is True
    assert r.get("greeting") == b"hello"
    assert r.get("missing") is None
    assert r.set("greeting", "x", nx=True) is None
    assert r.set("greeting", "bye", xx=True, get=True) == b"hello"
    assert r.set("session", "s1", ex=100) is True
    assert 99 <= r.ttl("session") <= 100
    assert 98_000 <= r.pttl("session") <= 100_000
    assert r.set("short", "s", px=50_000) is True
    assert r.expire("greeting", 30) is True
    assert r.persist("greeting") is True
    assert r.ttl("greeting") == -1
    assert r.ttl("missing") == -2
    assert r.setex("tmp", 60, "t") is True
    assert r.psetex("tmp2", 60_000, "t") is True
    assert r.setnx("greeting", "no") is False
    assert r.mset({"a": "1", "b": "2", "c": "3"}) is True
    assert r.mget(["a", "missing", "c"]) == [b"1", None, b"3"]
    assert r.incr("counter") == 1
    assert r.incrby("counter", 10) == 11
    assert r.decr("counter") == 10
    assert r.exists("a", "b", "missing") == 2
    assert r.delete("a", "b", "missing") == 2
    assert r.getdel("c") == b"3"
    assert r.getdel("c") is None
    assert r.getset("gs", "one") is None
    assert r.getset("gs", "two") == b"one"
    assert r.append("gs", "!") == 4
    assert r.strlen("gs") == 4
    assert r.getex("gs", ex=100) == b"two!"
    assert 99 <= r.ttl("gs") <= 100
    assert r.type("gs") == b"string"
    assert r.unlink("gs") == 1

    keys = {f"user:{i}" for i in range(250)}
    with r.pipeline(transaction=False) as pipe:
        for key in sorted(keys):
            pipe.set(key, key)
        pipe.get("user:7")
        pipe.incr("counter")
        results = pipe.execute()
    assert results[:-2] == [True] * len(keys)
    assert results[-2:] == [b"user:7", 11]
    # The default pipeline is a MULTI/EXEC transaction.
    with r.pipeline() as pipe:
        pipe.set("tx", "1").incr("tx").get("tx")
        assert pipe.execute() == [True, 2, b"2"]
    assert {k.decode() for k in r.scan_iter(match="user:*", count=50)} == keys
    assert {k.decode() for k in r.keys("user:1?")} == {f"user:{i}" for i in range(10, 20)}
    assert r.dbsize() >= len(keys)

    try:
        r.execute_command("NOSUCHCOMMAND", "x")
        raise AssertionError("unknown command accepted")
    except redis.ResponseError as e:
        assert str(e).startswith("unknown command 'NOSUCHCOMMAND'"), str(e)
    try:
        r.set("k", "v", ex=0)
        raise AssertionError("EX 0 accepted")
    except redis.ResponseError as e:
        assert str(e) == "invalid expire time in 'set' command", str(e)

    assert r.client_setname("smoke") is True
    assert r.client_getname() in ("smoke", b"smoke")
    check_info(r)
    check_read_commands(r)
    assert r.echo("hi") == b"hi"
    assert r.flushdb() is True
    assert r.dbsize() == 0
    print(f"protocol {proto}: ok")


def check_info(r: redis.Redis) -> None:
    """INFO as redis-py parses it: typed fields, db0 as a dict, several sections, everything."""
    info = r.info()
    assert "redis_version" in info, info
    assert isinstance(info["used_memory"], int) and info["used_memory"] > 0, info
    assert isinstance(info["used_cpu_user"], float), info
    assert info["role"] == "master", info
    assert info["db0"]["keys"] >= 1, info
    assert isinstance(info["db0"]["expires"], int), info
    assert isinstance(r.info("server"), dict)
    keyspace = r.info("keyspace")
    assert set(keyspace) == {"db0"}, keyspace
    both = r.info("server", "clients")
    assert "tcp_port" in both and "connected_clients" in both, both
    assert "used_memory_peak" in r.info("everything")
    assert r.info("nosuchsection") == {}


def check_read_commands(r: redis.Redis) -> None:
    """The bit, LCS, OBJECT, MEMORY and DUMP/RESTORE calls redis-py exposes."""
    r.set("bits", "foobar")
    assert r.getbit("bits", 1) == 1
    assert r.bitcount("bits") == 26
    assert r.bitcount("bits", 1, 1) == 6
    assert r.bitpos("bits", 1, 1) == 9
    r.mset({"lcs1": "ohmytext", "lcs2": "mynewtext"})
    assert r.lcs("lcs1", "lcs2") == b"mytext"
    assert r.lcs("lcs1", "lcs2", len=True) == 6
    assert r.object("encoding", "bits") in (b"embstr", "embstr")
    assert r.memory_usage("bits") > len("bitsfoobar")
    assert r.memory_usage("nosuchkey") is None
    assert r.randomkey() is not None
    payload = r.dump("bits")
    assert r.restore("bits-copy", 0, payload) in (True, b"OK", "OK")
    assert r.get("bits-copy") == b"foobar"
    try:
        r.restore("bits-copy", 0, payload)
        raise AssertionError("RESTORE over an existing key accepted")
    except redis.ResponseError as e:
        assert str(e) == "BUSYKEY Target key name already exists.", str(e)


def check_watch(port: int, proto: int) -> None:
    r = redis.Redis(host="127.0.0.1", port=port, protocol=proto, socket_timeout=10)
    other = redis.Redis(host="127.0.0.1", port=port, protocol=proto, socket_timeout=10)
    r.set("balance", 10)
    # pipeline(transaction=True) with watch(): the key did not change, EXEC runs.
    with r.pipeline(transaction=True) as pipe:
        pipe.watch("balance")
        current = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", current + 5)
        assert pipe.execute() == [True]
    assert r.get("balance") == b"15"
    # Another client writes the watched key before EXEC: WatchError, nothing written.
    with r.pipeline(transaction=True) as pipe:
        pipe.watch("balance")
        other.set("balance", 100)
        pipe.multi()
        pipe.set("balance", 0)
        try:
            pipe.execute()
            raise AssertionError("EXEC should have been aborted")
        except redis.WatchError:
            pass
    assert r.get("balance") == b"100"
    # Redis.transaction(): another client spoils the first attempt, the retry loop runs it again.
    seen = []

    def add_one(pipe: redis.client.Pipeline) -> None:
        value = int(pipe.get("balance"))
        seen.append(value)
        if len(seen) == 1:
            other.incr("balance")
        pipe.multi()
        pipe.set("balance", value + 1)

    assert r.transaction(add_one, "balance") == [True]
    assert seen == [100, 101], seen
    assert r.get("balance") == b"102"
    r.close()
    other.close()
    print(f"watch protocol {proto}: ok")


def main() -> None:
    port = int(sys.argv[1])
    for proto in (2, 3):
        r = redis.Redis(host="127.0.0.1", port=port, protocol=proto, socket_timeout=10)
        if proto == 3:
            hello = r.execute_command("HELLO", "3")
            assert hello[b"proto"] == 3 or hello.get("proto") == 3, hello
        check_client(r, proto)
        r.close()
        check_watch(port, proto)
    # A connection pool under concurrent use from threads.
    import threading

    pool = redis.ConnectionPool(host="127.0.0.1", port=port, max_connections=8, socket_timeout=10)
    errors = []

    def worker(n: int) -> None:
        c = redis.Redis(connection_pool=pool)
        try:
            for i in range(200):
                c.set(f"t{n}:{i}", i)
                assert c.get(f"t{n}:{i}") == str(i).encode()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads), "threads did not finish"
    print(f"threads: ok in {time.monotonic() - started:.2f}s")


if __name__ == "__main__":
    main()
