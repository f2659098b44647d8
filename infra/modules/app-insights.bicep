// Application Insights for the function app. Local (instrumentation key) authentication is
// off: the host and the OpenTelemetry exporter authenticate with the app's identity, which
// gets Monitoring Metrics Publisher here.

@description('Name of the component.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object = {}

@description('Resource ID of the Log Analytics workspace.')
param workspaceId string

@description('Object ID of the identity that publishes telemetry.')
param publisherPrincipalId string

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource component 'Microsoft.Insights/components@2020-02-02' = {
  name: name
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    DisableLocalAuth: true
    WorkspaceResourceId: workspaceId
  }
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(component.id, publisherPrincipalId, monitoringMetricsPublisher)
  scope: component
  properties: {
    principalId: publisherPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

output id string = component.id
output name string = component.name
output connectionString string = component.properties.ConnectionString
