"""Watch-rule alerts: their messages, built once, and their delivery by e-mail and Apprise.

One module per step, as the digest's: `settings` reads the channels and the relay
(`AlertSettings.from_env()`); `message` writes an alert's subject, text and e-mail;
`deliver` raises the alerts of new matches with their outbox rows and sends them at most once,
retried with backoff (`storage.watch` matches, `storage.alert_outbox` keeps the rows).
"""
