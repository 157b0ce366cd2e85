"""An S3 server on 127.0.0.1 for tests: moto's server mode (ThreadedMotoServer, extra `s3`),
started and stopped by the test (a thread of the test process: it ends with it).

`python tests/s3_server.py SECONDS` runs one for SECONDS (then exits by itself) and prints its
port, for trying commands by hand."""
import os
import socket
import sys
from contextlib import contextmanager

# fake credentials: moto accepts any; never real ones
CREDENTIALS = dict(AWS_ACCESS_KEY_ID='adasweep-test', AWS_SECRET_ACCESS_KEY='adasweep-test',
                   AWS_DEFAULT_REGION='us-east-1', AWS_EC2_METADATA_DISABLED='true')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextmanager
def s3_server(bucket='adasweep'):
    """(endpoint 'http://127.0.0.1:PORT', the URI query naming it) of a fresh moto server with
    `bucket` created; the process's environment gets the fake credentials meanwhile."""
    from moto.server import ThreadedMotoServer
    saved = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    port = free_port()
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    server.start()
    try:
        import boto3
        endpoint = f'http://127.0.0.1:{port}'
        if bucket:
            boto3.client('s3', endpoint_url=endpoint).create_bucket(Bucket=bucket)
        yield endpoint, f'endpoint_override=127.0.0.1:{port}&scheme=http'
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def bucket_keys(endpoint, bucket='adasweep', prefix=''):
    """{key: size} of every object under `prefix`."""
    import boto3
    client = boto3.client('s3', endpoint_url=endpoint)
    out = {}
    for page in client.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get('Contents', []):
            out[obj['Key']] = obj['Size']
    return out


if __name__ == '__main__':
    import time
    with s3_server() as (endpoint, query):
        print(query, flush=True)
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 600)
