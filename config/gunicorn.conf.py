# gunicorn's settings for the web container (Dockerfile, docker-compose.yml): the access
# log without query strings, status tokens, referers or request headers
# (config/log_redaction.py, docs/security.md "What is logged, and what never is").
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
logger_class = "config.log_redaction.GunicornLogger"
