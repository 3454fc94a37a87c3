"""EventBridge scheduled rules, run here: moto stores them but never fires them, accepts
expressions AWS refuses (`rate(1 minutes)`, `cron(0 1 * * * *)`), and delivers every PutEvents
event to a scheduled rule, failing on its Lambda targets (NotImplementedError).

An ENABLED rule with a ScheduleExpression on the default bus fires, as on AWS, in UTC at
one-minute resolution; each firing is one "Scheduled Event" with a new id, sent to each of
its Lambda targets (or the target's Input instead) as an asynchronous invocation, through the
endpoint's own async delivery, so its retries and failure records apply. Other target types are
not fired. A DISABLED or deleted rule, or a removed target, stops at the next tick.

Runs missed while the endpoint was stopped, or while the machine slept, are skipped, not
caught up: a schedule resumes at its next due time after now. A rate(...) schedule counts from
the minute the scheduler first sees the rule (as AWS counts from its creation).

The invoke permission EventBridge needs on AWS (events.amazonaws.com with the rule's
SourceArn) is not checked, as the endpoint does not check the one S3 notifications need.
"""
import calendar
import json
import logging
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone

from moto.events import models
from moto.events.exceptions import ValidationException

NOT_VALID = 'Parameter ScheduleExpression is not valid.'
RATE = re.compile(r'rate\((?P<value>[1-9][0-9]{0,8}) (?P<unit>minutes?|hours?|days?)\)')
CRON = re.compile(r'cron\((?P<fields>[^()]*)\)')
UNIT_SECONDS = {'minute': 60, 'hour': 3600, 'day': 86400}
MONTHS = {name: number for number, name in enumerate(
    ('JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'), 1)}
WEEKDAYS = {name: number for number, name in enumerate(
    ('SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'), 1)}
LAST_YEAR = 2199
TICK_SECONDS = 1.0  # how often rules are looked at: a new or changed rule is seen this quickly

logger = logging.getLogger(__name__)


class InvalidSchedule(ValueError):
    pass


def parse(expression):
    """The schedule of a ScheduleExpression, or InvalidSchedule for one AWS refuses."""
    rate = RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate['value']), rate['unit']
        if (value == 1) == unit.endswith('s'):  # singular for 1, plural otherwise
            raise InvalidSchedule(expression)
        return Rate(timedelta(seconds=value * UNIT_SECONDS[unit.rstrip('s')]))
    cron = CRON.fullmatch(expression)
    if cron:
        return Cron(cron['fields'])
    raise InvalidSchedule(expression)


def minute_of(moment):
    return moment.replace(second=0, microsecond=0)


class Rate:
    def __init__(self, period):
        self.period = period

    def first_due(self, now):
        try:
            return minute_of(now) + self.period
        except OverflowError:  # past year 9999: never
            return None

    def next_due(self, due, now):
        """The first due time after now, skipping the ones missed."""
        missed = (now - due) // self.period + 1
        try:
            return due + missed * self.period
        except OverflowError:
            return None


class Cron:
    """cron(Minutes Hours Day-of-month Month Day-of-week Year), UTC, as EventBridge reads it
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html)."""

    def __init__(self, text):
        fields = text.split(' ')
        if len(fields) != 6:
            raise InvalidSchedule(text)
        minutes, hours, day_of_month, months, day_of_week, years = fields
        if (day_of_month == '?') == (day_of_week == '?'):  # exactly one day field is '?'
            raise InvalidSchedule(text)
        self.minutes = sorted(values(minutes, 0, 59))
        self.hours = sorted(values(hours, 0, 23))
        self.months = sorted(values(months, 1, 12, MONTHS))
        self.years = sorted(values(years, 1970, LAST_YEAR))
        self.day_of_month = None if day_of_month == '?' else month_days(day_of_month)
        self.day_of_week = None if day_of_week == '?' else week_days(day_of_week)

    def first_due(self, now):
        return self.next_due(now, now)

    def next_due(self, due, now):
        """The first matching minute after both (None when there is none before 2200)."""
        after = max(due, now)
        start = minute_of(after) + timedelta(minutes=1)
        for year in (year for year in self.years if year >= start.year):
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in self._days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    for hour in self.hours:
                        for minute in self.minutes:
                            moment = datetime(year, month, day, hour, minute,
                                              tzinfo=timezone.utc)
                            if moment >= start:
                                return moment
        return None

    def _days(self, year, month):
        if self.day_of_month is not None:
            return self.day_of_month(year, month)
        return self.day_of_week(year, month)


def values(field, low, high, names=None):
    """The numbers a field allows: lists of N, A-B, *, */S, N/S, A-B/S."""
    allowed = set()
    for item in field.split(','):
        span, _, step = item.partition('/')
        if span == '*':
            first, last = low, high
        elif '-' in span:
            first, last = (number(part, low, high, names) for part in span.split('-', 1))
        else:
            first = number(span, low, high, names)
            last = high if step else first
        step = number(step, 1, high - low + 1) if step else 1
        if first > last:
            raise InvalidSchedule(field)
        allowed.update(range(first, last + 1, step))
    return allowed


def number(text, low, high, names=None):
    if names and text.upper() in names:
        return names[text.upper()]
    if not (text.isascii() and text.isdigit()) or len(text) > 4 or not low <= int(text) <= high:
        raise InvalidSchedule(text)
    return int(text)


def last_day(year, month):
    return calendar.monthrange(year, month)[1]


def aws_weekday(year, month, day):
    """1 = Sunday ... 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def nearest_weekday(year, month, day):
    """The weekday nearest `day`, in the same month (W)."""
    length = last_day(year, month)
    day = min(day, length)
    weekday = aws_weekday(year, month, day)
    if weekday == 7:  # Saturday: the Friday before, or the Monday after the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: the Monday after, or the Friday before the last day
        return day + 1 if day < length else day - 2
    return day


def month_days(field):
    """Day-of-month: numbers, L (last day), LW (last weekday), NW (weekday nearest N)."""
    if field == 'L':
        return lambda year, month: [last_day(year, month)]
    if field == 'LW':
        return lambda year, month: [nearest_weekday(year, month, last_day(year, month))]
    if field.endswith('W'):
        day = number(field[:-1], 1, 31)
        return lambda year, month: [nearest_weekday(year, month, day)]
    days = sorted(values(field, 1, 31))
    return lambda year, month: [day for day in days if day <= last_day(year, month)]


def week_days(field):
    """Day-of-week (1 = SUN): numbers and names, DL (last D of the month), D#N (Nth D)."""
    if field.endswith('L') and field != 'L':
        weekday = number(field[:-1], 1, 7, WEEKDAYS)
        return lambda year, month: [max(day for day in range(1, last_day(year, month) + 1)
                                        if aws_weekday(year, month, day) == weekday)]
    if '#' in field:
        weekday, _, nth = field.partition('#')
        weekday, nth = number(weekday, 1, 7, WEEKDAYS), number(nth, 1, 5)
        return lambda year, month: [day for day in range(1, last_day(year, month) + 1)
                                    if aws_weekday(year, month, day) == weekday
                                    and (day - 1) // 7 + 1 == nth]
    weekdays = {7} if field == 'L' else values(field, 1, 7, WEEKDAYS)
    return lambda year, month: [day for day in range(1, last_day(year, month) + 1)
                                if aws_weekday(year, month, day) in weekdays]


def scheduled_event(rule, moment):
    """The event a scheduled rule sends: a new id each time."""
    return {'version': '0', 'id': str(uuid.uuid4()), 'detail-type': 'Scheduled Event',
            'source': 'aws.events', 'account': rule.account_id,
            'time': moment.strftime('%Y-%m-%dT%H:%M:%SZ'), 'region': rule.region_name,
            'resources': [rule.arn], 'detail': {}}


def lambda_targets(rule):
    return [target for target in rule.targets
            if re.match(r'arn:[^:]+:lambda:[^:]+:[0-9]{12}:function:', target.get('Arn', ''))]


def scheduled_rules():
    """Every scheduled rule on a default bus, in every account and region moto holds."""
    for regions in list(models.events_backends.values()):
        for backend in list(regions.values()):
            bus = backend.event_buses.get('default')
            for rule in list(bus.rules.values()) if bus else []:
                if rule.scheduled_expression:
                    yield rule


class Scheduler:
    """Fires scheduled rules. tick(now) does one round; start() runs rounds on a thread with
    the clock and sleep given (tests pass their own)."""

    def __init__(self, submit, clock=lambda: datetime.now(timezone.utc), sleep=None):
        self.submit = submit  # AsyncInvoker.submit(account, region, function, payload)
        self.clock = clock
        self.stopped = threading.Event()
        self.sleep = sleep or self.stopped.wait
        self.due = {}  # (rule ARN, expression) -> next due time (None: never again)

    def tick(self, now):
        seen = set()
        for rule in scheduled_rules():
            if rule.state != 'ENABLED':
                continue
            key = (rule.arn, rule.scheduled_expression)
            seen.add(key)
            try:
                schedule = parse(rule.scheduled_expression)
            except InvalidSchedule:  # stored before validation was installed
                continue
            if key not in self.due:
                self.due[key] = schedule.first_due(now)
            due = self.due[key]
            if due is not None and due <= now:
                self.fire(rule, due)
                self.due[key] = schedule.next_due(due, now)
        for key in set(self.due) - seen:  # deleted, disabled or changed: forgotten
            del self.due[key]

    def fire(self, rule, moment):
        event = json.dumps(scheduled_event(rule, moment))
        for target in lambda_targets(rule):
            _, _, _, region, account, _ = target['Arn'].split(':', 5)
            payload = target['Input'] if 'Input' in target else event
            self.submit(account, region, target['Arn'], payload.encode())

    def start(self):
        threading.Thread(target=self._run, daemon=True, name='schedules').start()

    def _run(self):
        while not self.stopped.is_set():
            try:
                self.tick(self.clock())
            except Exception:  # last resort: schedules keep running whatever one round hit
                logger.exception('a round of scheduled rules failed')
            if self.sleep(TICK_SECONDS):
                return

    def close(self):
        self.stopped.set()


def install():
    """put-rule refuses what AWS refuses; a scheduled rule takes no PutEvents traffic."""
    backend = models.EventsBackend
    if getattr(backend, '_schedules', False):
        return
    backend._schedules = True
    put_rule, send_to_targets = backend.put_rule, models.Rule.send_to_targets

    def checked_put_rule(self, name, description=None, event_bus_arn=None,
                         event_pattern=None, role_arn=None, scheduled_expression=None,
                         *args, **kwargs):
        if scheduled_expression and self._normalize_event_bus_arn(event_bus_arn) == 'default':
            try:
                parse(scheduled_expression)
            except InvalidSchedule:
                raise ValidationException(NOT_VALID) from None
        return put_rule(self, name, description, event_bus_arn, event_pattern, role_arn,
                        scheduled_expression, *args, **kwargs)

    def events_only(self, original_event, transform_input=True):
        if self.scheduled_expression:
            return
        send_to_targets(self, original_event, transform_input)

    backend.put_rule = checked_put_rule
    models.Rule.send_to_targets = events_only
