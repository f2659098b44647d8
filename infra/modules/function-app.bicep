// The function app on the Flex Consumption plan (Linux, Python 3.11), running as the
// user-assigned identity: storage by identity (AzureWebJobsStorage__accountName), secrets
// as Key Vault references, telemetry to Application Insights with Entra ID auth.

@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region (one that offers Flex Consumption).')
param location string

@description('Tags for the resources. The site also gets azd-service-name.')
param tags object = {}

@description('azd service name in azure.yaml (azd finds the app by this tag).')
param serviceName string = 'api'

@description('Resource ID of the user-assigned identity.')
param identityId string

@description('Client ID of the user-assigned identity.')
param identityClientId string

@description('Name of the storage account (AzureWebJobsStorage and the app data).')
param storageAccountName string

@description('Blob endpoint of the storage account, with its trailing slash.')
param storageBlobEndpoint string

@description('The container the app package is deployed to.')
param deploymentContainerName string

@description('Application Insights connection string (no secret: local auth is off).')
param appInsightsConnectionString string

@description('Key Vault URI, with its trailing slash.')
param keyVaultUri string

@description('Python version: Flex Consumption offers 3.10 and 3.11 for this app (3.11 is what it is tested on).')
@allowed([
  '3.11'
])
param pythonVersion string = '3.11' // 3.11.10+ has the email header fix (CVE-2024-6923); shared/mail/outbound.py is safe without it (docs/architecture.md, Mail)

@description('Most instances the app scales out to (Flex Consumption: 40-1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance, in MB.')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('The help desk\'s name in pages and emails.')
param helpdeskName string

@description('The desk\'s time zone (IANA), for rules on time of day.')
param timezone string = 'UTC'

@description('Sender address of outgoing mail.')
param mailFrom string

@description('Display name of outgoing mail.')
param mailFromName string

@description('SMTP relay host. Empty: mail goes through Azure Communication Services.')
param smtpHost string = ''

@description('SMTP port.')
param smtpPort string = '587'

@description('SMTP transport security.')
@allowed([
  'none'
  'starttls'
  'tls'
])
param smtpSecurity string = 'starttls'

@description('SMTP user name.')
param smtpUsername string = ''

@description('Whether the SMTP password secret exists in Key Vault.')
param hasSmtpPassword bool = false

@description('Whether App Service Authentication is configured (its client secret is in Key Vault).')
param hasAuthClientSecret bool = false

@description('Erasing a requester: remove the text of their messages, or keep it redacted (their name and address replaced).')
@allowed([
  'remove'
  'redact'
])
param erasureMode string = 'remove'

@description('Closed tickets older than this many months are erased by the daily timer; 0 keeps them.')
@minValue(0)
@maxValue(1200)
param retentionMonths int = 0

@description('NCRONTAB schedule of the mailbox fetch timer (six fields, UTC).')
param mailboxFetchSchedule string = '0 * * * * *'

var useSmtp = !empty(smtpHost)

// Settings the code reads that this template leaves unset on purpose: the code's default
// is right in Azure, or another setting replaces it (identity instead of a connection
// string). Ops may add any of them to the app's configuration. The test compares this
// list and the settings below with what shared/core/settings.py reads.
var unsetAppSettings = [
  'AzureWebJobsStorage'
  'AzureWebJobsStorage__blobServiceUri'
  'AzureWebJobsStorage__queueServiceUri'
  'AzureWebJobsStorage__tableServiceUri'
  'HELPDESK_AUDIT_RETENTION_DAYS'
  'HELPDESK_AUTOCLOSE_CLOSE_AFTER_DAYS'
  'HELPDESK_AUTOCLOSE_REMIND_AFTER_DAYS'
  'HELPDESK_AUTOCLOSE_RESOLVE_AFTER_DAYS'
  'HELPDESK_CATEGORIES'
  'HELPDESK_DEFAULT_CATEGORY'
  'HELPDESK_DNS_SERVER'
  'HELPDESK_LIMIT_ACKNOWLEDGEMENTS_PER_HOUR'
  'HELPDESK_LIMIT_ATTACHMENTS_PER_TICKET'
  'HELPDESK_LIMIT_ATTACHMENT_BYTES'
  'HELPDESK_LIMIT_DESCRIPTION_CHARS'
  'HELPDESK_LIMIT_NAME_CHARS'
  'HELPDESK_LIMIT_PORTAL_LINKS_PER_HOUR'
  'HELPDESK_LIMIT_REQUEST_BYTES'
  'HELPDESK_LIMIT_SUBJECT_CHARS'
  'HELPDESK_LIMIT_SUBMISSIONS_PER_HOUR'
  'HELPDESK_MAILBOX_ALERT_AFTER_SECONDS'
  'HELPDESK_MAILBOX_BATCH_SIZE'
  'HELPDESK_MAILBOX_FETCH_SECONDS'
  'HELPDESK_MAILBOX_LEASE_SECONDS'
  'HELPDESK_MAIL_ADDRESSES'
  'HELPDESK_MAIL_AUTHSERV_ID'
  'HELPDESK_MAIL_SENDER_CHECK'
  'HELPDESK_OSTICKET_TOPICS'
  'HELPDESK_PORTAL_LINK_DAYS'
  'HELPDESK_SIGN_IN_PATH'
  'HELPDESK_SLA_ESCALATE_ON_BREACH'
  // Set by App Service itself, to True when App Service Authentication is on (app-auth.bicep);
  // the app believes the sign-in principal header only then. Never set by us.
  'WEBSITE_AUTH_ENABLED'
]

// Key Vault references without a secret version: a new version is used without a deployment.
var chatSecretRef = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/helpdesk-chat-secret/)'
var portalSecretRef = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/helpdesk-portal-secret/)'
var acsConnectionRef = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/acs-email-connection/)'
var smtpPasswordRef = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/smtp-password/)'
var authSecretRef = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/auth-client-secret/)'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption depends on the region; the app keeps no state on its instances.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: Client certificates would lock out the public web form, the mail pipe and integrations; agents sign in with Entra ID.
  // checkov:skip=CKV_AZURE_222: The public web form, the mail pipe and integrations must reach the app from the internet.
  // checkov:skip=CKV_AZURE_212: Scaling to zero is the point of the plan; always-ready instances would bill around the clock.
  // checkov:skip=CKV_AZURE_213: A platform health check would ping the app around the clock and keep it from scaling to zero; GET /api/health is there for an external monitor.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // The host's storage and the app's storage, by identity (shared/core/settings.py).
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        // DefaultAzureCredential picks the user-assigned identity by this client ID.
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        {
          // The host's "Your Functions app is up and running" page is not the desk's:
          // the address to hand out is the web form, HELPDESK_URL/api/form.
          name: 'AzureWebJobsDisableHomepage'
          value: 'true'
        }
        {
          name: 'HELPDESK_NAME'
          value: helpdeskName
        }
        {
          name: 'HELPDESK_PUBLIC_URL'
          value: 'https://${name}.azurewebsites.net'
        }
        {
          name: 'HELPDESK_TIMEZONE'
          value: timezone
        }
        {
          // A requester's erasure (shared/admin/erasure.py): remove or redact their words.
          name: 'HELPDESK_ERASURE_MODE'
          value: erasureMode
        }
        {
          // Retention: closed tickets erased after this many months (0: never).
          name: 'HELPDESK_RETENTION_MONTHS'
          value: string(retentionMonths)
        }
        {
          // The mailbox fetch timer (functions/mailboxes.py): every minute.
          name: 'HELPDESK_MAILBOX_FETCH_SCHEDULE'
          value: mailboxFetchSchedule
        }
        {
          name: 'HELPDESK_CHAT_SECRET'
          value: chatSecretRef
        }
        {
          name: 'HELPDESK_PORTAL_SECRET'
          value: portalSecretRef
        }
        {
          name: 'MAIL_FROM'
          value: mailFrom
        }
        {
          name: 'MAIL_FROM_NAME'
          value: mailFromName
        }
        {
          name: 'ACS_EMAIL_CONNECTION'
          value: useSmtp ? '' : acsConnectionRef
        }
        {
          name: 'SMTP_HOST'
          value: smtpHost
        }
        {
          name: 'SMTP_PORT'
          value: smtpPort
        }
        {
          name: 'SMTP_SECURITY'
          value: smtpSecurity
        }
        {
          name: 'SMTP_USERNAME'
          value: smtpUsername
        }
        {
          name: 'SMTP_PASSWORD'
          value: (useSmtp && hasSmtpPassword) ? smtpPasswordRef : ''
        }
        // App Service Authentication reads its client secret from here (app-auth.bicep).
        {
          name: 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET'
          value: hasAuthClientSecret ? authSecretRef : ''
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

resource basicFtp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource basicScm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output unsetAppSettings array = unsetAppSettings
