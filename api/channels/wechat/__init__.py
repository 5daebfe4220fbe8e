"""The WeChat official-account channel (公众号): `GET/POST /wechat` (router.py), see README "WeChat official account".

Nothing is imported here, so `python -m api.channels.wechat.menu` runs without loading the whole channel first.
"""
