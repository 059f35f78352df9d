"""The weekly digest: what is new, built from the store, rendered, and delivered once.

One module per step: `build` reads the week from storage into a `Digest`; `sources` says which
sources failed, were blocked or missed their schedule; `chart` draws the trend; `render` turns a
digest into HTML and text (and writes a preview file); `outbox` fixes each (week, recipient)
message once and sends it at most once; `mail` speaks SMTP; `settings` reads them all
(`DigestSettings.from_env()`). `render` imports `build`, never the other way round.
"""
