"""The RM side of XA: one branch call of an XA global transaction, on a dedicated
connection of PyMySQL/mysqlclient (MySQL, MariaDB) or psycopg (PostgreSQL, which needs
``max_prepared_transactions`` > 0).

dtm (and the :class:`dtmx.Xa` client) call the same URL for phase 1 (``op=action``: run
``busi`` in a new XA transaction, register the branch, prepare) and phase 2
(``op=commit``/``rollback``)::

    @app.post("/api/busi/XaTransIn")
    @dtmx.flask.branch
    def xa_trans_in():
        dtmx.xa_local(connect(), dtmx.flask.branch_request(),
                      lambda cur: cur.execute("update ... "))

:class:`XaLocal` is the core's machine behind it, for a driver of your own.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any, Callable, Optional

from . import _native
from ._barrier import BarrierTable, driver_of
from ._branch import Branch

#: One XA branch call on the RM side as a machine the host drives: ``XaLocal(branch,
#: table)``; ``step()`` is ``("execute", sql, params)``, ``("query", sql, params)``,
#: ``("business",)``, ``("send", method, url, headers, body)`` or ``("done",)``; report
#: with the ``feed_*`` methods, then ``finish()`` raises the error to answer dtm with.
XaLocal = _native.XaLocal


def xa_local(
    conn: Any,
    branch: Branch,
    busi: Callable[[Any], Any],
    *,
    table: Optional[BarrierTable] = None,
    timeout: float = 10.0,
) -> None:
    """Runs the XA branch call ``branch`` on ``conn`` (switched to autocommit, as XA needs);
    ``busi(cursor)`` runs in phase 1 only. Raises the error to answer dtm with (see
    :func:`dtmx.reply`): :class:`FailureError` for a refused or fenced phase 1,
    :class:`DatabaseError` for SQL errors."""
    dialect, style = driver_of(conn)
    table = table or BarrierTable(dialect)
    _autocommit(conn)
    xa = XaLocal(branch, table._n)
    cur = conn.cursor()
    try:
        while True:
            step = xa.step()
            kind = step[0]
            if kind in ("execute", "query"):
                try:
                    if step[2]:
                        cur.execute(table._n.render(step[1], style), tuple(step[2]))
                    else:
                        cur.execute(step[1])
                except Exception as e:  # the database's answer is the core's to judge
                    xa.feed_sql_error(str(e))
                    continue
                if kind == "execute":
                    xa.feed_affected(max(cur.rowcount, 0))
                else:
                    row = cur.fetchone()
                    xa.feed_reason(None if row is None else str(row[0]))
            elif kind == "business":
                try:
                    busi(cur)
                except Exception as e:
                    xa.feed_business(e)
                else:
                    xa.feed_business(None)
            elif kind == "send":
                _, method, url, headers, body = step
                req = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
                try:
                    with urllib.request.urlopen(req, timeout=timeout) as r:
                        xa.feed_reply(r.status, r.read())
                except urllib.error.HTTPError as e:
                    xa.feed_reply(e.code, e.read())
                except OSError as e:
                    xa.feed_send_error(str(e))
            else:
                break
    finally:
        cur.close()
    xa.finish()


def _autocommit(conn: Any) -> None:
    setter = getattr(conn, "autocommit", None)
    if callable(setter):  # PyMySQL, mysqlclient
        setter(True)
    else:  # psycopg
        conn.autocommit = True
