"""Reply accuracy (问题回复准确率, document 002) as pure arithmetic over the counts the repository gives.

A reply given to a customer (to a complaint or to an inquiry) is reviewed once by a quality reviewer, who
judges it accurate or not and says why when it is not. Over the replies *given* in a period:

    reply accuracy = accurate reviewed replies / reviewed replies

Replies never reviewed are not in the population (they are neither accurate nor inaccurate); a group
without a reviewed reply has no accuracy (None), never 0 %. Worked example: customer-service gave 20
replies in March that were reviewed, 18 judged accurate → 18 / 20 = 0.9; its 5 unreviewed replies count
nowhere."""

from feedback_svc.common import rate


def reply_accuracy(reviewed: int, accurate: int) -> float | None:
    return rate(accurate, reviewed)
