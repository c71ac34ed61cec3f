"""When a watched folder has settled: the same listing at two looks, whatever the files' mtimes;
a folder unchanged between looks costs a stat, not a listing."""

import os
import time

from fashion_assets.core.common import settling
from fashion_assets.core.common.settling import Watch, look

FUTURE = time.time() + 365 * 86400


def put(folder, name, data=b"{}", mtime=None):
    path = folder / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_a_change_is_acted_on_at_the_second_look_that_finds_it_the_same(tmp_path):
    watch, now = Watch(recorded="nothing yet"), 1000.0
    put(tmp_path, "a.json", mtime=FUTURE)  # a future date does not hold it back
    first = look(watch, [tmp_path], now)
    assert not first.changed and "settling" in first.why
    second = look(watch, [tmp_path], now + 5)
    assert second.changed and second.listing.digest == watch.recorded and second.listing.entries == 1
    assert not look(watch, [tmp_path], now + 10).changed


def test_a_file_growing_between_looks_waits(tmp_path):
    watch = Watch()
    look(watch, [tmp_path], 0.0)
    look(watch, [tmp_path], 5.0)  # the empty folder, recorded
    growing = put(tmp_path, "a.json", b"{")
    assert not look(watch, [tmp_path], 10.0).changed
    growing.write_bytes(b'{"E_id": 1}')  # still being written: its size changed, the folder did not
    assert not look(watch, [tmp_path], 15.0).changed
    assert look(watch, [tmp_path], 20.0).changed


def test_an_edit_in_place_is_seen_at_the_periodic_relisting(tmp_path):
    path = put(tmp_path, "a.json", b'{"Q5": 1}')
    watch = Watch()
    look(watch, [tmp_path], 0.0)
    assert look(watch, [tmp_path], 1.0).changed
    mtime = os.stat(tmp_path).st_mtime_ns
    path.write_bytes(b'{"Q5": 2}')  # same size, the folder's mtime untouched
    os.utime(tmp_path, ns=(mtime, mtime))
    assert look(watch, [tmp_path], 2.0).why == "unchanged"  # the cheap check: no listing
    assert not look(watch, [tmp_path], 1.0 + settling.RELIST_SECONDS).changed  # listed: settling
    assert look(watch, [tmp_path], 2.0 + settling.RELIST_SECONDS).changed


def test_a_folder_that_keeps_changing_is_acted_on_after_the_wait_limit(tmp_path):
    watch = Watch(recorded="x")
    for k in range(100):
        put(tmp_path, f"{k}.json")
        seen = look(watch, [tmp_path], k * 5.0, max_wait_seconds=60)
        if seen.changed:
            break
    assert seen.changed and "still changing after 60 s" in seen.why and k * 5.0 >= 60


def test_the_cursor_of_older_code_is_read(tmp_path):
    assert Watch.from_cursor("abc").recorded == "abc"
    watch = Watch(recorded="abc", pending="def", pending_since=3, folders="f", listed_at=4)
    assert Watch.from_cursor(watch.to_cursor()) == watch
