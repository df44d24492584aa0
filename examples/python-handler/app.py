"""A function URL handler: edit the greeting while `tether dev` runs and curl again."""
import json
import os


def handler(event, context):
    params = event.get("queryStringParameters") or {}
    name = params.get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(
            {
                "message": f"{os.environ.get('GREETING', 'hello')}, {name}!",
                "path": event.get("rawPath"),
                "requestId": context.aws_request_id,
                "runningLocally": os.environ.get("TETHER_DEV") == "true",
            }
        ),
    }
