"""NMPA number parser, and the NMPA lookup client against a local server serving our HTML fixtures."""
from __future__ import annotations

import pytest

from scanner.medical.http import HttpSettings
from scanner.medical.nmpa import NmpaClient, NmpaNumberError, find_numbers, parse_number
from scanner.text import normalise

from .conftest import FIXTURES


@pytest.mark.parametrize("number, kind, authority, origin, year, klass, category, seq", [
    ("国械注准20173460427", "registration", "国", "domestic", 2017, 3, "46", "0427"),
    ("国械注进20173160089", "registration", "国", "imported", 2017, 3, "16", "0089"),
    ("国械注许20162221234", "registration", "国", "hk_mo_tw", 2016, 2, "22", "1234"),
    ("粤械注准20192070321", "registration", "粤", "domestic", 2019, 2, "07", "0321"),
    ("京械备20150012号", "filing", "京", "domestic", 2015, 1, None, "0012"),
    ("苏苏械备20200456号", "filing", "苏苏", "domestic", 2020, 1, None, "0456"),
    ("国械备20180003号", "filing", "国", "imported", 2018, 1, None, "0003"),
    ("国食药监械(准)字2013第3460427号", "registration_pre2014", "国", "domestic", 2013, 3, "46", "0427"),
    ("国食药监械（进）字2012第2210001号", "registration_pre2014", "国", "imported", 2012, 2, "21", "0001"),
    ("国械注准２０１７３４６０４２７", "registration", "国", "domestic", 2017, 3, "46", "0427"),
])
def test_parse_valid(number, kind, authority, origin, year, klass, category, seq):
    n = parse_number(number)
    assert (n.kind, n.authority, n.origin, n.year, n.device_class, n.category, n.sequence) == \
        (kind, authority, origin, year, klass, category, seq)


@pytest.mark.parametrize("number, problem", [
    ("国械注准2017346042", "expected 11 digits"),
    ("国械注准201734604271", "expected 11 digits"),
    ("国械注准20174460427", "class digit 4"),
    ("国械注Q20173460427", "准, 进 or 许"),
    ("京械备2015号", "械备"),
    ("国食药监械(准)字2013第346042号", "国食药监械(准)字"),
    ("K201234", "not an NMPA"),
    ("", "not an NMPA"),
])
def test_parse_malformed_names_the_problem(number, problem):
    with pytest.raises(NmpaNumberError) as err:
        parse_number(number)
    assert problem in str(err.value)
    assert repr(number) in str(err.value)


def test_find_numbers_in_text_maps_back_to_original():
    original = "Oximeter 粤械注准２０１９２０７０３２１ and filing 苏苏械备20200456号; bad 国械注准2019314032 end"
    doc = normalise(original)
    found = find_numbers(doc.text)
    assert [type(p).__name__ for _, _, p in found] == ["NmpaNumber", "NmpaNumber", "NmpaNumberError"]
    s, e, quote = doc.quote(found[0][0], found[0][1])
    assert original[s:e] == quote == "粤械注准２０１９２０７０３２１"
    assert found[1][2].device_class == 1
    assert find_numbers("no numbers here") == []


FAST = HttpSettings(connect_timeout=1.0, read_timeout=0.5, retries=1, backoff=0.05)


def html(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_nmpa_lookup_found(server):
    server.on("/datasearch/query", (200, {"Content-Type": "text/html; charset=utf-8"}, html("nmpa_detail_class3.html")))
    c = NmpaClient(server.url, settings=FAST)
    r = c.lookup("registration", "国械注准20173460427")
    assert r.ok
    assert r.record["product_name"] == "软性亲水接触镜"
    assert r.record["valid_until"] == "2027-05-31"
    assert r.record["parsed_class"] == 3
    assert "alert" not in r.record["scope"]  # script content is not text
    assert server.requests[0][1]["regno"] == ["国械注准20173460427"]
    assert c.lookup("registration", "国械注准20173460427").cached
    assert server.count("/datasearch/query") == 1


def test_nmpa_filing_page(server):
    server.on("/datasearch/query", (200, {}, html("nmpa_detail_filing.html")))
    r = NmpaClient(server.url, settings=FAST).lookup("filing", "京械备20150012号")
    assert r.ok and r.record["registrant"] == "北京示例医用材料厂"


def test_nmpa_not_found_page(server):
    server.on("/datasearch/query", (200, {}, html("nmpa_not_found.html")))
    r = NmpaClient(server.url, settings=FAST).lookup("registration", "国械注准20173469999")
    assert r.not_found and not r.ok and r.error is None


def test_nmpa_page_for_another_number_is_an_error(server):
    server.on("/datasearch/query", (200, {}, html("nmpa_other_number.html")))
    r = NmpaClient(server.url, settings=FAST).lookup("registration", "国械注准20173460427")
    assert not r.ok and "国械注准20160000001" in r.error


def test_nmpa_server_error_and_timeout(server):
    server.on("/datasearch/query", (500, {}, b"down"))
    r = NmpaClient(server.url, settings=FAST).lookup("registration", "国械注准20173460427")
    assert not r.ok and "NMPA lookup" in r.error
    server.on("/datasearch/query", (200, {}, html("nmpa_detail_class3.html"), 1.2))
    slow = HttpSettings(connect_timeout=1.0, read_timeout=0.3, retries=0)
    r = NmpaClient(server.url, settings=slow).lookup("registration", "国械注准20173460427")
    assert not r.ok and "timed out" in r.error


def test_nmpa_garbage_page_is_an_error(server):
    server.on("/datasearch/query", (200, {}, b"<html><body><p>maintenance</p></body></html>"))
    r = NmpaClient(server.url, settings=FAST).lookup("registration", "国械注准20173460427")
    assert not r.ok and "no registration table" in r.error


def test_nmpa_malformed_number_sends_no_request(server):
    r = NmpaClient(server.url, settings=FAST).lookup("registration", "国械注准2017")
    assert r.error and "malformed" in r.error
    assert server.requests == []
