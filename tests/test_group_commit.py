"""Commands that arrive while another commits are committed together, in one transaction.

Each keeps its own answer, its own event row and its own seq; a refused one is undone alone;
nobody is answered before the batch is on disk."""

import threading

from support import wait_until

from hall.errors import HallError


def commands_queued_behind_a_commit(hall, commands):
    """Run `commands` (callables) in threads while a commit holds the hall, then let them
    through together; returns each one's answer or error, in the order given."""
    answers = [None] * len(commands)

    def run(i, command):
        try:
            answers[i] = command()
        except HallError as error:
            answers[i] = error

    with hall._in_order:  # as a commit in progress does
        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(commands)]
        for t in threads:
            t.start()
        assert wait_until(lambda: len(hall._pending) == len(commands))
    for t in threads:
        t.join(10)
    return answers


def test_queued_commands_commit_together_each_with_its_own_answer(hall):
    kiosk = hall.authenticate("demo-kiosk-1-token")
    commits = []
    hall.roll_over_day()  # the day's first check writes too; not part of this test
    original_write = hall.store.write

    def counting_write():
        commits.append(1)
        return original_write()

    hall.store.write = counting_write
    answers = commands_queued_behind_a_commit(
        hall, [lambda s=s: hall.issue(kiosk, s)["ticket"]["number"]
               for s in ("pay", "pay", "account", "pay")])
    assert sorted(answers) == ["A001", "A002", "A003", "B001"]
    assert len(commits) == 1  # one transaction, one fsync, for the four
    seqs = [row[0] for row in hall.store.db.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gapless


def test_a_batch_is_published_once_its_events_in_seq_order(hall):
    kiosk = hall.authenticate("demo-kiosk-1-token")
    published = []
    hall.subscribe(lambda events: published.append([(n, p["seq"], p["parts"]) for n, p in events]))
    commands_queued_behind_a_commit(
        hall, [lambda s=s: hall.issue(kiosk, s) for s in ("pay", "pay", "account", "pay")])
    behind = published[-1]  # the four, queued behind one commit, in one call
    seqs = [seq for _, seq, _ in behind]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    for seq in set(seqs):  # each command's events together, `parts` of them
        mine = [(n, parts) for n, s, parts in behind if s == seq]
        assert len(mine) == mine[0][1]


def test_a_refused_command_in_a_batch_is_undone_alone(hall):
    kiosk = hall.authenticate("demo-kiosk-1-token")
    boss = hall.authenticate(hall.login("9001", "9999")["token"])
    events = []
    hall.subscribe(lambda command: events.extend((name, p["seq"]) for name, p in command))
    answers = commands_queued_behind_a_commit(hall, [
        lambda: hall.issue(kiosk, "pay")["ticket"]["number"],
        lambda: hall.window_command(boss, 1, "call-next", {}),  # closed: refused in the batch
        lambda: hall.window_command(boss, 2, "recall", {}),  # nobody to recall: refused too
        lambda: hall.issue(kiosk, "pay")["ticket"]["number"],
    ])
    numbers = [a for a in answers if isinstance(a, str)]
    refused = [a for a in answers if isinstance(a, HallError)]
    assert sorted(numbers) == ["A001", "A002"]
    assert len(refused) == 2
    count = hall.store.db.execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert count == 2
    seqs = sorted({seq for _, seq in events})
    logged = [row[0] for row in hall.store.db.execute("SELECT seq FROM events ORDER BY seq")]
    assert seqs == logged[-2:] and seqs[1] == seqs[0] + 1  # no seq lost to the refusals


def test_a_retry_in_the_same_batch_gets_the_first_answer(hall):
    kiosk = hall.authenticate("demo-kiosk-1-token")
    answers = commands_queued_behind_a_commit(
        hall, [lambda: hall.issue(kiosk, "pay", request_id="tap-1")["ticket"]["number"]] * 3)
    assert answers == ["A001"] * 3
    assert hall.store.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
