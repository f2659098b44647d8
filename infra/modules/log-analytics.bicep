// The Log Analytics workspace behind Application Insights.

@description('Name of the workspace.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags object = {}

@description('Days to keep data. 30 are included in the ingestion price.')
param retentionInDays int = 30

@description('Daily ingestion cap in GB (-1: none). A cap bounds the bill if something logs in a loop.')
param dailyQuotaGb int = 1

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    retentionInDays: retentionInDays
    sku: {
      name: 'PerGB2018'
    }
    workspaceCapping: {
      dailyQuotaGb: dailyQuotaGb
    }
  }
}

output id string = workspace.id
output name string = workspace.name
