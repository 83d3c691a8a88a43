"""Raw SigV4-signed requests to a store, for answers a high-level client would hide: the
XML as sent, any `Host` header, any query."""

import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def request(store, method, path, query=None, headers=None, body=b"", host=None, region="us-east-1"):
    """Signs and sends one request to the store's socket; `host` overrides the Host header.
    Answers (status, headers, body bytes)."""
    qs = urllib.parse.urlencode(query or {}, quote_via=urllib.parse.quote)
    url = f"{store.endpoint}{urllib.parse.quote(path)}" + (f"?{qs}" if qs else "")
    headers = dict(headers or {})
    if host:
        headers["Host"] = host
    signed = AWSRequest(method=method, url=url, data=body, headers=headers)
    S3SigV4Auth(Credentials(store.access_key, store.secret_key), "s3", region).add_auth(signed)
    prepared = urllib.request.Request(url, data=body or None, method=method, headers=dict(signed.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def xml(body):
    """The document's root, with S3's namespace stripped from every tag."""
    root = ET.fromstring(body)
    for element in root.iter():
        if element.tag.startswith(NS):
            element.tag = element.tag[len(NS):]
    return root


def texts(root, path):
    return [e.text or "" for e in root.findall(path)]
