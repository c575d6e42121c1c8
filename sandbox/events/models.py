"""Pydantic models for event shapes Powertools lacks. Trusted side only (tests, check_course);
not imported by the factories, which stay standard-library only."""

from aws_lambda_powertools.utilities.parser.models.alb import AlbRequestContext
from pydantic import BaseModel, ConfigDict


class AlbMultiValueModel(BaseModel):
    """An ALB event from a target group with lambda.multi_value_headers.enabled (facts §1c):
    multiValueHeaders and multiValueQueryStringParameters *instead of* headers and
    queryStringParameters, so any other key is an error."""

    model_config = ConfigDict(extra="forbid", strict=True)

    requestContext: AlbRequestContext
    httpMethod: str
    path: str
    multiValueQueryStringParameters: dict[str, list[str]]
    multiValueHeaders: dict[str, list[str]]
    body: str
    isBase64Encoded: bool
