"""Measure the catalog store at a province's scale: bulk load and local search latency.

Usage: ``.venv/bin/python scripts/bench_store.py [--entries 131000] [--repeat 50] [--path FILE]``

Builds a synthetic catalog (realistic Chinese names from templates; 户籍 in about 3% of names),
loads it into a fresh ``CatalogStore`` and times searches for 2-, 3- and 4-character terms with and
without filters and facets, then a few with the postings cache on. A measurement, not a test:
numbers depend on the machine, and on whatever else it is running (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.catalog.model import CatalogEntry, DataItem  # noqa: E402
from gateway.catalog.query import Filters  # noqa: E402
from gateway.catalog.store import CatalogStore, SearchQuery  # noqa: E402

CITIES = "南京 无锡 徐州 常州 苏州 南通 连云港 淮安 盐城 扬州 镇江 泰州 宿迁".split()
DEPARTMENTS = [
    ("gat", "江苏省公安厅"),
    ("rst", "江苏省人力资源和社会保障厅"),
    ("zjt", "江苏省住房和城乡建设厅"),
    ("scjgj", "江苏省市场监督管理局"),
    ("wjw", "江苏省卫生健康委员会"),
    ("mzt", "江苏省民政厅"),
    ("jyt", "江苏省教育厅"),
    ("zrzyt", "江苏省自然资源厅"),
    ("sthjt", "江苏省生态环境厅"),
    ("jtyst", "江苏省交通运输厅"),
    ("swj", "国家税务总局江苏省税务局"),
    ("ybj", "江苏省医疗保障局"),
    ("gjj", "江苏省住房公积金管理中心"),
    ("tyjrt", "江苏省退役军人事务厅"),
    ("yjglt", "江苏省应急管理厅"),
    ("nynct", "江苏省农业农村厅"),
    ("slt", "江苏省水利厅"),
    ("sft", "江苏省司法厅"),
    ("tjj", "江苏省统计局"),
    ("dsj", "江苏省大数据管理中心"),
]
SUBJECTS = [
    ("营业执照", ["scjgj"]),
    ("食品经营许可", ["scjgj"]),
    ("药品经营许可", ["scjgj"]),
    ("特种设备使用登记", ["scjgj", "yjglt"]),
    ("社会保险参保缴费", ["rst"]),
    ("社保卡申领", ["rst"]),
    ("社保关系转移接续", ["rst"]),
    ("失业保险金申领", ["rst"]),
    ("职业技能等级证书", ["rst"]),
    ("住房公积金缴存明细", ["gjj"]),
    ("住房公积金贷款", ["gjj"]),
    ("医疗保险报销结算", ["ybj"]),
    ("医保定点机构", ["ybj"]),
    ("医疗机构执业许可", ["wjw"]),
    ("出生医学证明", ["wjw"]),
    ("婚姻登记", ["mzt"]),
    ("最低生活保障对象", ["mzt"]),
    ("社会组织登记", ["mzt"]),
    ("学校办学许可", ["jyt"]),
    ("学籍变动", ["jyt"]),
    ("不动产登记", ["zrzyt"]),
    ("建设用地规划许可", ["zrzyt", "zjt"]),
    ("建筑工程施工许可", ["zjt"]),
    ("商品房预售许可", ["zjt"]),
    ("排污许可", ["sthjt"]),
    ("环境影响评价审批", ["sthjt"]),
    ("道路运输经营许可", ["jtyst"]),
    ("机动车驾驶证", ["gat"]),
    ("居民身份证办理", ["gat"]),
    ("纳税信用等级", ["swj"]),
    ("增值税发票开具", ["swj"]),
    ("退役军人优待证", ["tyjrt"]),
    ("安全生产许可", ["yjglt"]),
    ("农药经营许可", ["nynct"]),
    ("取水许可", ["slt"]),
    ("法律援助", ["sft"]),
    ("统计调查", ["tjj"]),
    ("公共数据共享交换", ["dsj"]),
]
ACTIONS = "登记 变更 注销 审批 备案 核查 统计 查询 年度报告 办理".split()
ITEMS = [
    ("公民身份号码", "string", 18, "L3", "id_number"),
    ("姓名", "string", 50, "L2", "name"),
    ("性别", "string", 2, "L1", ""),
    ("出生日期", "date", 10, "L2", "birth_date"),
    ("住所地址", "string", 200, "L3", ""),
    ("联系电话", "string", 11, "L3", "mobile"),
    ("统一社会信用代码", "string", 18, "L1", ""),
    ("企业名称", "string", 200, "L1", ""),
    ("法定代表人", "string", 50, "L2", "name"),
    ("登记机关", "string", 100, "L1", ""),
    ("缴存基数", "decimal", 12, "L3", ""),
    ("缴存金额", "decimal", 12, "L3", ""),
    ("参保险种", "string", 20, "L2", ""),
    ("缴费月份", "string", 6, "L2", ""),
    ("单位名称", "string", 200, "L1", ""),
    ("银行卡号", "string", 19, "L4", "bank_card"),
    ("电子邮箱", "string", 100, "L2", "email"),
    ("许可证编号", "string", 50, "L1", ""),
    ("有效期限", "date", 10, "L1", ""),
    ("办理状态", "string", 10, "L1", ""),
]
CATEGORIES = ["101", "102", "103", "104", "105", *(f"2{i:02d}" for i in range(1, 13))]
CATEGORIES += [f"3{i:02d}" for i in range(1, 21)]
GRADES = ["L1", "L2", "L3", "L4"]
SHARE = ["unconditional", "conditional", "none"]
CYCLES = ["realtime", "daily", "weekly", "monthly", "quarterly", "half_yearly", "yearly", "other"]
FORMATS = ["database", "file", "api"]
OPEN = ["open", "conditional", "closed"]


def synthetic_catalog(count: int, *, seed: int = 1, province: str = "js") -> Iterator[CatalogEntry]:
    rng = random.Random(seed)
    departments = dict(DEPARTMENTS)
    for seq in range(1, count + 1):
        city = rng.choice(CITIES)
        roll = rng.random()
        if roll < 0.03:
            year = rng.randrange(2015, 2024)
            kind = rng.choice(["迁入", "迁出", "变更"])
            name = f"{city}{year}年度户籍人口{kind}登记信息"
            dept = "gat"
            person = (("户籍地址", "string", 200, "L3", ""),)
        else:
            subject, owners = rng.choice(SUBJECTS)
            dept = rng.choice(owners)
            name = f"{city}{subject}{rng.choice(ACTIONS)}信息"
            person = ()
        items = tuple(
            DataItem(*item) for item in (*person, *rng.sample(ITEMS, rng.randrange(4, 12)))
        )
        purpose = rng.choice(["跨省通办", "一网通办", "政务服务", "监管执法", "统计分析"])
        extra = "，核验申请人户口所在地与籍贯" if rng.random() < 0.05 else ""
        abstract = (
            f"本资源记录{departments[dept]}在{city}管理的{name[len(city) :]}数据，"
            f"包括{items[0].name}、{items[-1].name}等信息项，用于{purpose}{extra}。"
        )
        category = rng.choice(CATEGORIES)
        grade = max(item.grade for item in items)
        yield CatalogEntry(
            code=f"{category}{rng.randrange(1000):03d}/{seq:06d}",
            name=name,
            province=province,
            department_code=dept,
            department=departments[dept],
            category=category,
            abstract=abstract,
            format=rng.choice(FORMATS),
            share_type="none" if grade == "L4" else rng.choice(SHARE[:2]),
            share_conditions="" if grade == "L1" else "需经数据提供部门审核同意",
            open_attribute=rng.choice(OPEN),
            update_cycle=rng.choice(CYCLES),
            publish_date=f"20{rng.randrange(18, 24)}-{rng.randrange(1, 13):02d}-"
            f"{rng.randrange(1, 29):02d}",
            grade=grade,
            items=items,
        )


CASES = [
    ("户籍", Filters()),
    ("社保", Filters()),
    ("公积金", Filters()),
    ("营业执照", Filters()),
    ("户籍", Filters(grades=("L3",), share_types=("conditional",))),
    ("公积金", Filters(categories=("1",), update_cycles=("daily", "monthly"))),
    ("营业执照", Filters(departments=("scjgj",))),
    ("户", Filters()),
    ("苏州 营业执照", Filters()),
    # Generic terms: 信息 ends every name and 数据 is in every abstract, so the whole catalog
    # matches; total and facets are then counted from the few entries that do not match.
    ("信息", Filters()),
    ("数据", Filters()),
    ("信息", Filters(grades=("L1", "L2"))),
    ("", Filters()),
    ("", Filters(grades=("L1",), departments=("gat", "rst"))),
]


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    samples = sorted(samples)
    return samples[0], statistics.median(samples), samples[int(len(samples) * 0.95)]


def time_search(store: CatalogStore, query: SearchQuery, repeat: int) -> tuple[list[float], int]:
    store.search(query)  # warm the page cache and the statement cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = store.search(query)
        samples.append((time.perf_counter() - start) * 1000)
    return samples, result.total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=131_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--path", help="database file (default: a temporary directory)")
    args = parser.parse_args()

    print(
        f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.path or Path(tmp) / "catalog.db")
        entries = list(synthetic_catalog(args.entries))
        # No postings or result cache: every search below reads its terms' postings afresh.
        with CatalogStore(path, postings_cache=0, result_cache=0) as store:
            start = time.perf_counter()
            store.insert_many(entries)
            load = time.perf_counter() - start
            size = path.stat().st_size / 2**20
            print(f"bulk insert: {len(entries)} entries in {load:.1f} s, file {size:.0f} MiB")
            start = time.perf_counter()
            store.search(SearchQuery("户籍"))
            print(f"first search (builds the facet index): {time.perf_counter() - start:.2f} s")
            samples = []
            for entry in entries[:: max(1, len(entries) // args.repeat)]:
                start = time.perf_counter()
                store.get(entry.code)
                samples.append((time.perf_counter() - start) * 1000)
            print("get(code): min {:.2f} p50 {:.2f} p95 {:.2f} ms".format(*percentiles(samples)))
            print()
            print(f"{'query':<10} {'filters':<40} {'facets':<6} {'total':>7}  min / p50 / p95 ms")
            for text, filters in CASES:
                for facets in (True, False):
                    query = SearchQuery(text=text, filters=filters, facets=facets)
                    samples, total = time_search(store, query, args.repeat)
                    shown = ",".join(f"{k}={'|'.join(v)}" for k, v in asdict(filters).items() if v)
                    low, mid, high = percentiles(samples)
                    print(
                        f"{text or '(none)':<10} {shown or '-':<40} {facets!s:<6} {total:>7}"
                        f"  {low:5.2f} / {mid:5.2f} / {high:5.2f}"
                    )
            print("\nwith the postings cache (a repeated term, or the next page of one):")
            with CatalogStore(path, result_cache=0) as cached:
                for text, filters in CASES[:4]:
                    samples, total = time_search(cached, SearchQuery(text, filters), args.repeat)
                    low, mid, high = percentiles(samples)
                    print(f"{text:<10} {total:>7}  {low:5.2f} / {mid:5.2f} / {high:5.2f}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
