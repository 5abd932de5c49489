/**
 * The few AWS managed policies whose effect on privilege is decisive, for exports made with
 * `--filter User Role Group LocalManagedPolicy` (which leave AWS managed policy documents out). Documents
 * follow the published policy text (AWS Managed Policy Reference); only these are modelled, every other
 * missing policy is reported as unknown.
 */
export const BUILTIN_AWS_POLICIES: Record<string, unknown> = {
  'arn:aws:iam::aws:policy/AdministratorAccess': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
  },
  'arn:aws:iam::aws:policy/IAMFullAccess': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['iam:*', 'organizations:DescribeAccount', 'organizations:DescribeOrganization'],
        Resource: '*',
      },
    ],
  },
  'arn:aws:iam::aws:policy/PowerUserAccess': {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' },
      {
        Effect: 'Allow',
        Action: [
          'iam:CreateServiceLinkedRole',
          'iam:DeleteServiceLinkedRole',
          'iam:ListRoles',
          'organizations:DescribeOrganization',
          'account:ListRegions',
        ],
        Resource: '*',
      },
    ],
  },
};
