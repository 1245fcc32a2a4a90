#!/usr/bin/python3
"""Drives the operator console (web/console) in headless Chromium for tests/e2e/t_console.sh.

Debian's chromium + chromium-driver + python3-selenium (scripts/setup.sh); nothing downloaded.
Steps, each with a screenshot in --shots: a wrong token is refused (401: asked again); the right
one opens the deferred queue, which shows the stored item ITEM with its file name as text (the
name is hostile markup: it must not become an element); the live transfers, users and metrics
views render (the charts draw once two scrapes of /metrics are in); the queue searched by
sender; Retry is accepted; Purge then Cancel keeps the item; Purge then confirm removes it. Browser console errors
(a CSP violation, a JS exception) fail the run. Prints one `ok ...` line per step; exits 1 with
`FAIL ...` otherwise."""
import argparse
import os
import signal
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ap = argparse.ArgumentParser()
ap.add_argument('--url', required=True)
ap.add_argument('--token', required=True)
ap.add_argument('--mode', choices=['queue', 'progress', 'hold'], default='queue',
                help='hold: log in, show the live transfers view and stay until SIGTERM (bench/admin_bench.sh)')
ap.add_argument('--item', help='queue: the stored item to find and purge')
ap.add_argument('--name', default='', help='queue, progress: the file name the page must show')
ap.add_argument('--sender', help='queue: its sender')
ap.add_argument('--user', help='queue: a user with a registered device (users view)')
ap.add_argument('--resume-pid', type=int, help='progress: the stopped receiver to SIGCONT')
ap.add_argument('--shots', required=True)
ap.add_argument('--profile', required=True)
a = ap.parse_args()
os.makedirs(a.shots, exist_ok=True)

opts = webdriver.ChromeOptions()
opts.binary_location = '/usr/bin/chromium'
opts.add_argument('--headless=new')
# Chromium refuses to start as root with its sandbox on (the tests run as root in CI and
# containers); the page it opens is our own, on loopback.
opts.add_argument('--no-sandbox')
opts.add_argument('--disable-dev-shm-usage')  # small /dev/shm in containers
opts.add_argument('--disable-gpu')
opts.add_argument('--window-size=1280,900')
opts.add_argument('--user-data-dir=' + a.profile)  # inside the test's temp dir, not $HOME
opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
drv = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=opts)
wait = WebDriverWait(drv, 15)
shot_n = len([f for f in os.listdir(a.shots) if f.endswith('.png')])  # numbered on across runs


def shot(name):
    global shot_n
    shot_n += 1
    drv.save_screenshot(os.path.join(a.shots, '%02d-%s.png' % (shot_n, name)))


def fail(msg):
    print('FAIL ' + msg, flush=True)
    try:
        shot('failure')
        print('page status: ' + drv.find_element(By.ID, 'status').text, flush=True)
        for e in drv.get_log('browser'):
            print('browser: %s %s' % (e['level'], e['message']), flush=True)
    finally:
        drv.quit()
    sys.exit(1)


def until(what, cond, t=15):
    try:
        # the live views re-render every second: an element found a moment ago may be gone
        return WebDriverWait(drv, t, ignored_exceptions=[StaleElementReferenceException]).until(cond)
    except Exception as e:  # TimeoutException and friends: say what we waited for
        fail('timed out waiting for %s (%s)' % (what, type(e).__name__))


def row_sel(item):
    return '#deferred-table tr[data-id="%s"]' % item


def console_errors():
    return [e for e in drv.get_log('browser') if e['level'] == 'SEVERE']


def progress_mode():
    """A transfer held mid-way (its receiver is stopped): the live view shows it with a progress
    bar between 0 and its size; once the receiver runs again, the polled view drops it."""
    drv.get(a.url + '#transfers')
    until('the token form', EC.visibility_of_element_located((By.ID, 'token')))
    drv.find_element(By.ID, 'token').send_keys(a.token)
    drv.find_element(By.ID, 'login-ok').click()
    sel = '#transfers-table tbody tr[data-id]'

    def bar(d):
        for r in d.find_elements(By.CSS_SELECTOR, sel):
            if r.find_element(By.CSS_SELECTOR, 'td.name').text == a.name:
                p = r.find_element(By.TAG_NAME, 'progress')
                v, m = float(p.get_attribute('value')), float(p.get_attribute('max'))
                if 0 < v < m:
                    return r.text, v, m
        return False
    text, v, m = until('a progress bar for %s between 0 and its size' % a.name, bar)
    print('ok progress %d / %d bytes: %s' % (v, m, text.replace('\n', ' | ')), flush=True)
    shot('progress')
    os.kill(a.resume_pid, signal.SIGCONT)
    until('the finished transfer to leave the polled view', lambda d: not bar(d) and not any(
        x.find_element(By.CSS_SELECTOR, 'td.name').text == a.name for x in d.find_elements(By.CSS_SELECTOR, sel)), 60)
    print('ok transfer left the live view', flush=True)
    shot('progress-done')
    errs = console_errors()
    if errs:
        fail('browser console errors: %s' % errs)


def hold_mode():
    """The console open as an operator leaves it: the live transfers view (polled every second,
    /metrics every second for the charts, health every 5 s) until SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: (drv.quit(), sys.exit(0)))
    drv.get(a.url + '#transfers')
    until('the token form', EC.visibility_of_element_located((By.ID, 'token')))
    drv.find_element(By.ID, 'token').send_keys(a.token)
    drv.find_element(By.ID, 'login-ok').click()
    until('the live transfers view', EC.visibility_of_element_located((By.ID, 'transfers-table')))
    print('ok console open on the live transfers view', flush=True)
    while True:
        time.sleep(1)


try:
    if a.mode == 'hold':
        hold_mode()
    if a.mode == 'progress':
        progress_mode()
        drv.quit()
        sys.exit(0)
    drv.get(a.url)
    until('the token form', EC.visibility_of_element_located((By.ID, 'token')))
    if drv.title != 'cpmd console':
        fail('page title %r' % drv.title)
    shot('token')
    # a wrong token: cpmd answers 401 and the page asks again
    drv.find_element(By.ID, 'token').send_keys('wrong-' + a.token)
    drv.find_element(By.ID, 'login-ok').click()
    until('the 401 message', lambda d: '401' in d.find_element(By.ID, 'status').text)
    until('the token form again', EC.visibility_of_element_located((By.ID, 'token')))
    print('ok wrong token refused: ' + drv.find_element(By.ID, 'status').text, flush=True)
    drv.get_log('browser')  # the 401s are logged by Chromium as failed loads: expected here

    drv.find_element(By.ID, 'token').send_keys(a.token)
    drv.find_element(By.ID, 'login-ok').click()
    row = until('item %s in the deferred queue' % a.item,
                EC.visibility_of_element_located((By.CSS_SELECTOR, row_sel(a.item))))
    name_td = row.find_element(By.CSS_SELECTOR, 'td.name')
    if name_td.text != a.name:
        fail('name cell shows %r, expected %r' % (name_td.text, a.name))
    if name_td.find_elements(By.CSS_SELECTOR, '*'):
        fail('the file name became markup: %s' % name_td.get_attribute('innerHTML'))
    cells = [c.text for c in row.find_elements(By.TAG_NAME, 'td')]
    if a.sender not in cells[1]:
        fail('sender cell %r, expected %s' % (cells[1], a.sender))
    print('ok item shown: ' + ' | '.join(cells[:7]), flush=True)
    shot('deferred')

    drv.find_element(By.ID, 'tab-transfers').click()
    until('the transfers view', EC.visibility_of_element_located((By.ID, 'transfers-table')))
    until('the transfers table filled', lambda d: d.find_elements(By.CSS_SELECTOR, '#transfers-table tbody tr'))
    print('ok transfers view', flush=True)
    shot('transfers')

    drv.find_element(By.ID, 'tab-users').click()
    link = until('user %s in the users list' % a.user,
                 EC.element_to_be_clickable((By.CSS_SELECTOR, '#users-list a[data-aor="%s"]' % a.user)))
    link.click()
    until('the user detail', lambda d: a.user in d.find_element(By.ID, 'user-detail').text
          and 'Devices' in d.find_element(By.ID, 'user-detail').text
          and d.find_elements(By.CSS_SELECTOR, '#user-detail table tbody tr'))
    print('ok user view: ' + drv.find_element(By.ID, 'user-detail').text.replace('\n', ' | ')[:200], flush=True)
    shot('user')

    drv.find_element(By.ID, 'tab-metrics').click()
    until('a chart line', lambda d: len((d.find_element(By.CSS_SELECTOR, '#chart-deferred polyline')
                                         .get_attribute('points') or '').split()) >= 2)
    deferred_now = drv.find_element(By.ID, 'now-deferred').text
    if deferred_now != 'now 1':
        fail('the deferred-items chart says %r, expected "now 1"' % deferred_now)
    print('ok metrics charts: ' + deferred_now, flush=True)
    shot('metrics')

    drv.find_element(By.ID, 'tab-deferred').click()
    drv.find_element(By.ID, 'f-sender').send_keys(a.sender)
    drv.find_element(By.ID, 'deferred-go').click()
    row = until('item %s found by sender' % a.item,
                EC.visibility_of_element_located((By.CSS_SELECTOR, row_sel(a.item))))
    # Retry now (bob has no device: cpmd accepts it and the item stays)
    row.find_element(By.CSS_SELECTOR, 'button.retry').click()
    until('"retry of %s started"' % a.item, lambda d: d.find_element(By.ID, 'status').text == 'retry of %s started' % a.item)
    row = until('item %s still listed after the retry' % a.item,
                EC.visibility_of_element_located((By.CSS_SELECTOR, row_sel(a.item))))
    print('ok retry accepted', flush=True)
    # Purge, then Cancel: the item stays
    row.find_element(By.CSS_SELECTOR, 'button.purge').click()
    until('the confirmation dialog', EC.visibility_of_element_located((By.ID, 'confirm-ok')))
    shot('confirm')
    drv.find_element(By.ID, 'confirm-cancel').click()
    until('the dialog to close', EC.invisibility_of_element_located((By.ID, 'confirm-ok')))
    time.sleep(0.5)
    if not drv.find_elements(By.CSS_SELECTOR, row_sel(a.item)):
        fail('the item went away after Cancel')
    print('ok cancel keeps the item', flush=True)
    # Purge, then confirm
    drv.find_element(By.CSS_SELECTOR, row_sel(a.item) + ' button.purge').click()
    until('the confirmation dialog', EC.visibility_of_element_located((By.ID, 'confirm-ok')))
    drv.find_element(By.ID, 'confirm-ok').click()
    until('"purged %s"' % a.item, lambda d: d.find_element(By.ID, 'status').text == 'purged ' + a.item)
    until('the row to go', lambda d: not d.find_elements(By.CSS_SELECTOR, row_sel(a.item)))
    print('ok purged ' + a.item, flush=True)
    shot('purged')
    errs = console_errors()
    if errs:
        fail('browser console errors: %s' % errs)
    print('ok no browser console error', flush=True)
finally:
    try:
        drv.quit()
    except Exception:
        pass
