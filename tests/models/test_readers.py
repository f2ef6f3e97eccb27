import gzip
from pathlib import Path

import pytest

from models.readers import detect_format, read_event_log, read_sequences
from models.sessions import RawSession

MICROLENS = Path(__file__).parents[2] / ".." / "shared" / "data" / "microlens50k"


def write(path: Path, text: str) -> Path:
    """Write bytes exactly as given (no newline translation), gzipped for a .gz name."""
    data = text.encode()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def test_sequences_with_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.tsv", "1\t10 11 12\r\n\r\n2\t11\r\n")
    assert read_sequences(path) == [
        RawSession("1", ("10", "11", "12"), (1.0, 1.0, 1.0)),
        RawSession("2", ("11",), (1.0,)),
    ]


def test_sequences_from_gzip(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.tsv.gz", "7\t3 4\n")
    assert read_sequences(path) == [RawSession("7", ("3", "4"), (1.0, 1.0))]


@pytest.mark.parametrize("bad_line", ["3 4 5", "3\t", "\t4 5", "3\t4\t5"])
def test_malformed_sequence_line_names_its_number(tmp_path: Path, bad_line: str) -> None:
    path = write(tmp_path / "pairs.tsv", f"1\t10 11\n\n{bad_line}\n")
    with pytest.raises(ValueError, match=r"pairs\.tsv:3:"):
        read_sequences(path)


def test_real_microlens_file_has_the_published_counts() -> None:
    path = MICROLENS / "MicroLens-50k_pairs.tsv.gz"
    if not path.exists():
        pytest.skip(f"MicroLens-50k not found at {path.resolve()}")
    sessions = read_sequences(path)
    assert len(sessions) == 50_000
    assert sum(len(s.item_ids) for s in sessions) == 359_708
    assert len({item for s in sessions for item in s.item_ids}) == 19_220
    assert sessions[0] == RawSession("1", ("1958", "6346", "15223", "17700", "1707"), (1.0,) * 5)


def test_idle_cut_keeps_a_gap_of_exactly_idle_gap_s(tmp_path: Path) -> None:
    # gaps: 1800 s (stays), then 1800.001 s (cuts)
    rows = "u\ta\t1000\nu\tb\t2800\nu\tc\t4600.001\n"
    path = write(tmp_path / "log.tsv", "user_id\titem_id\tts\n" + rows)
    sessions = read_event_log(path)
    assert [s.session_id for s in sessions] == ["u:0", "u:1"]
    assert [s.item_ids for s in sessions] == [("a", "b"), ("c",)]
    assert (sessions[0].start_s, sessions[0].end_s) == (1000.0, 2800.0)
    assert sessions[1].start_s == sessions[1].end_s == 4600.001


def test_users_are_ordered_by_time_and_cut_separately(tmp_path: Path) -> None:
    header = "user,item,timestamp\r\n"
    rows = "b,x,50\r\na,z,30\r\na,y,10\r\nb,w,5000\r\na,v,30\r\n"
    sessions = read_event_log(write(tmp_path / "log.csv", header + rows), idle_gap_s=60.0)
    # a's events sorted by time, the tie at 30 s keeps file order (z before v)
    assert [(s.session_id, s.item_ids) for s in sessions] == [
        ("b:0", ("x",)),
        ("b:1", ("w",)),
        ("a:0", ("y", "z", "v")),
    ]
    assert sessions[2].weights == (1.0, 1.0, 1.0)


def test_yoochoose_header_groups_by_session(tmp_path: Path) -> None:
    rows = "1\t214\t1396.5\n2\t300\t9999\n1\t215\t99999\n1\t213\t1000\n"
    sessions = read_event_log(write(tmp_path / "train.tsv.gz", "SessionId\tItemId\tTime\n" + rows))
    # no idle cut with a session column, even across a 98,000 s gap
    assert [(s.session_id, s.item_ids) for s in sessions] == [
        ("1", ("213", "214", "215")),
        ("2", ("300",)),
    ]
    assert (sessions[0].start_s, sessions[0].end_s) == (1000.0, 99999.0)


def test_millisecond_time_column(tmp_path: Path) -> None:
    rows = "u,a,1000000\nu,b,2800000\nu,c,4600001\n"
    path = write(tmp_path / "log.csv", "userid,itemid,ts_ms\n" + rows)
    sessions = read_event_log(path)
    assert [s.item_ids for s in sessions] == [("a", "b"), ("c",)]
    assert sessions[1].start_s == pytest.approx(4600.001)


def test_weights_come_from_signal_columns(tmp_path: Path) -> None:
    header = "session_id\titem_id\tts\twatch_ms\tduration_ms\tliked\tshared\treplays\n"
    rows = (
        "s\ta\t1\t1000\t10000\t0\t0\t0\n"  # skip: 0.05
        "s\tb\t2\t6000\t8000\tfalse\tFALSE\t0\n"  # 6000 / 8000 = 0.75
        "s\tc\t3\t1000\t10000\ttrue\t0\t0\n"  # 0.1 watched + 0.3 like
        "s\td\t4\t\t\t0\t0\t\n"  # nothing reported: a plain interaction
        "s\te\t5\t2000\t10000\t0\t1\t2\n"  # 0.2 + 0.6 share + 0.4 replay, clipped
    )
    (session,) = read_event_log(write(tmp_path / "log.tsv", header + rows))
    assert session.weights == pytest.approx((0.05, 0.75, 0.4, 1.0, 1.0))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("user_id\tts\nu\t1\n", r"log\.tsv:1: an item and a time \(or date\) column"),
        ("user_id\titem_id\nu\ta\n", r"log\.tsv:1: an item and a time \(or date\) column"),
        ("item_id\tts\na\t1\n", r"log\.tsv:1: without a session column a user column"),
        ("session_id\tsession\titem\tts\n1\t1\ta\t1\n", r"log\.tsv:1: more than one session"),
        ("user_id\titem_id\tts\nu\ta\t1\n\nu\tb\tsoon\n", r"log\.tsv:4: ts 'soon' is neither a n"),
        ("user_id\titem_id\tts\nu\ta\tnan\n", r"log\.tsv:2: ts 'nan' is not a finite"),
        ("user_id\titem_id\tts\nu\ta\n", r"log\.tsv:2: 2 fields where the header has 3"),
        ("user_id\titem_id\tts\nu\t\t1\n", r"log\.tsv:2: empty user_id or item_id"),
        ("user\titem\tts\tliked\nu\ta\t1\tyes\n", r"log\.tsv:2: liked 'yes' is not a boolean"),
        ("user\titem\tts\twatch_ms\nu\ta\t1\t-5\n", r"log\.tsv:2: watch_ms must be >= 0"),
    ],
)
def test_bad_logs_name_the_problem_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_event_log(write(tmp_path / "log.tsv", text))


def test_diginetica_days_plus_milliseconds_and_semicolons(tmp_path: Path) -> None:
    """Its own conventions: `;`, the session's day, and ms since the session started."""
    log = write(
        tmp_path / "views.csv",
        "session_id;user_id;item_id;timeframe;eventdate\n"
        "1;NA;81766;526309;2016-05-09\n"
        "1;NA;31331;1031018;2016-05-09\n"
        "1;NA;9654;75848;2016-05-09\n"
        "2;7;5;0;2016-05-10\n",
    )
    assert detect_format(log) == "events"
    first, second = read_event_log(log)
    assert first.item_ids == ("9654", "81766", "31331")  # by timeframe, not file order
    day = 1462752000.0  # 2016-05-09T00:00:00Z
    assert first.start_s == pytest.approx(day + 75.848)
    assert first.end_s == pytest.approx(day + 1031.018)
    assert second.start_s == pytest.approx(day + 86400)


def test_iso_times_read_as_utc_unless_they_say_otherwise(tmp_path: Path) -> None:
    log = write(
        tmp_path / "log.csv",
        "session,item,time\ns,a,2024-01-01T00:00:10\ns,b,2024-01-01T01:00:00+01:00\n",
    )
    (session,) = read_event_log(log)
    assert session.item_ids == ("b", "a")  # 00:00:00Z, then 00:00:10Z
    assert (session.start_s, session.end_s) == pytest.approx((1704067200.0, 1704067210.0))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("SessionId\tItemId\tTime\n1\t214\t1396839069.3\n", "events"),
        ("user,item,ts_ms\nu,a,1\n", "events"),
        ("session_id;item_id;eventdate\n1;a;2016-01-01\n", "events"),
        ("\n7\ta b c\n8\tc d\n", "sequences"),
    ],
)
def test_the_format_is_told_from_the_file(tmp_path: Path, text: str, kind: str) -> None:
    assert detect_format(write(tmp_path / "f.gz", text)) == kind


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("SessionId\tItemId\n1\t214\n", "time missing"),
        ("a,b,c\n1,2,3\n", "item, key, time missing"),
        ("", "the file is empty"),
    ],
)
def test_a_file_of_neither_kind_names_itself_and_why(
    tmp_path: Path, text: str, missing: str
) -> None:
    with pytest.raises(ValueError, match=rf"f\.tsv: .*{missing}"):
        detect_format(write(tmp_path / "f.tsv", text))
