"""The EC2 Query API server: boto3, the AWS CLI and other AWS tools drive the lab's real data plane.

- server     the WSGI app (werkzeug): form, SigV4, IAM, dispatch, EC2's XML and errors
- wire       requests and replies from botocore's own EC2 service model
- sigv4      Signature Version 4 verification
- context    the caller, its IAM policies and DryRun
- describe   filters, pagination and IDs shared by the Describe calls
- endpoints  endpoints and connections (consumer and provider)
- services   endpoint services and their permissions
- discovery  VPCs, subnets, security groups, network interfaces, AZs
It sits at the top with the CLI and imports only `lab.api` and pure libraries.

May import: lab.api, lab.iam and the pure libraries; only lab.cli (`lab api serve`) imports it.
"""
